/// Repetition control, as CTranslate2 (`repetition_penalty`, `no_repeat_ngram_size`) and
/// transformers (`repetition_penalty`, `no_repeat_ngram_size`) define it: at each step, before a token
/// is chosen, every token the hypothesis has already produced has its score divided by ``penalty``
/// (multiplied when the score is negative), and every token that would complete an n-gram of
/// ``noRepeatNgram`` tokens already in the hypothesis is banned.
///
/// "Already produced" means the hypothesis's generated tokens (without the start token, which is
/// never generated), and for a language model the prompt too, as transformers counts it. In beam search the penalty applies to the logits before
/// the log-softmax (CTranslate2's order), except for ``BeamSearch/Style/huggingface`` with more
/// than one beam, which applies it to the log-probabilities as transformers' beam search does. The
/// scores a search reports are those of the edited distribution.
public struct RepetitionControl: Sendable, Equatable, Hashable {
    /// The repetition penalty p (default 1: off); above 1 discourages repeats, below 1 encourages them.
    public var penalty: Float
    /// Bans any n-gram of this many tokens from occurring twice (default 0: off); 1 bans every repeated token.
    public var noRepeatNgram: Int

    /// Creates settings; the defaults change nothing. The penalty should be a finite number above 0
    /// (the commands and the service take 0.01 to 100) and the n-gram size 0 or more.
    public init(penalty: Float = 1, noRepeatNgram: Int = 0) {
        self.penalty = penalty; self.noRepeatNgram = noRepeatNgram
    }

    /// True when neither control is on: decoding is exactly as without them.
    public var isOff: Bool { penalty == 1 && noRepeatNgram == 0 }

    /// The tokens that would complete an n-gram (n = `n`) already in `tokens`: for each earlier
    /// occurrence of the last n − 1 tokens, the token that followed it. Empty when `tokens` holds
    /// fewer than n tokens; for n = 1, every distinct token of `tokens`.
    public static func ngramCompletions(of tokens: [Int32], n: Int) -> Set<Int32> {
        guard n >= 1, tokens.count >= n else { return [] }
        let k = n - 1, tail = tokens.count - k
        var banned = Set<Int32>()
        // Windows tokens[i ..< i + n] with i + n <= count; their first n − 1 tokens against the tail.
        for i in 0...(tokens.count - n) {
            var match = true
            for j in 0..<k where tokens[i + j] != tokens[tail + j] { match = false; break }
            if match { banned.insert(tokens[i + k]) }
        }
        return banned
    }

    /// Edits one row of next-token logits, in place, for a hypothesis that has produced `previous`:
    /// the penalty on each distinct token of `previous`, then −∞ for the n-gram completions.
    /// - Parameters:
    ///   - row: The logits of one row (the target vocabulary's size; every id of `previous` must be below it).
    ///   - previous: The tokens produced so far, oldest first.
    public func apply(toLogits row: FloatPtr, previous: [Int32]) {
        if penalty != 1 { penalizeScores(row, ids: Set(previous), penalty: penalty) }
        if noRepeatNgram > 0 { banScores(row, ids: Self.ngramCompletions(of: previous, n: noRepeatNgram)) }
    }

    /// Edits one row of scores whose log-probabilities are `row[t] − lse` (transformers' beam search).
    func apply(toLogProbabilities row: FloatPtr, logNormalizer lse: Float, previous: [Int32]) {
        if penalty != 1 { penalizeLogProbabilities(row, ids: Set(previous), penalty: penalty, logNormalizer: lse) }
        if noRepeatNgram > 0 { banScores(row, ids: Self.ngramCompletions(of: previous, n: noRepeatNgram)) }
    }
}
