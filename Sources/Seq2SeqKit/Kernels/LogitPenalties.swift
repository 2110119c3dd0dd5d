/// Edits of one row of next-token scores that steer decoding: the repetition penalty and banned
/// tokens. ``RepetitionControl`` decides which ids; these touch the row.

/// CTRL's repetition penalty (Keskar et al. 2019) as CTranslate2 and transformers apply it: the
/// score x of each id in `ids` becomes x / p when positive and x · p otherwise, so p > 1 makes those
/// tokens less likely whatever the score's sign.
/// - Parameters:
///   - row: The scores of one row, at least max(ids) + 1 of them.
///   - ids: Distinct token ids (an id listed twice would be penalized twice).
///   - p: The penalty (1 leaves the row as it is).
func penalizeScores(_ row: FloatPtr, ids: some Sequence<Int32>, penalty p: Float) {
    for id in ids {
        let x = row[Int(id)]
        row[Int(id)] = x > 0 ? x / p : x * p
    }
}

/// The same penalty on log-probabilities kept as scores with their log-normalizer: the
/// log-probability `row[id] − lse` (never positive) is multiplied by p, as transformers' beam
/// search applies its processors after the log-softmax.
func penalizeLogProbabilities(_ row: FloatPtr, ids: some Sequence<Int32>, penalty p: Float, logNormalizer lse: Float) {
    for id in ids {
        let lp = row[Int(id)] - lse
        row[Int(id)] = lse + (lp > 0 ? lp / p : lp * p)
    }
}

/// Sets the score of each id in `ids` to −∞: the token can no longer be chosen and adds nothing to
/// the row's softmax.
func banScores(_ row: FloatPtr, ids: some Sequence<Int32>) {
    for id in ids { row[Int(id)] = -.infinity }
}
