/// Lexically constrained beam search by dynamic beam allocation (Post & Vilar, 2018; fairseq's
/// `--constraints`): every translation must contain each of its sentence's constraint phrases
/// (token sequences, in any order).
///
/// A hypothesis's state records which phrases it has produced and how far it is into the one it is
/// producing now; its "met" count is the number of constraint tokens done. Each step the candidates
/// are the 2k best extensions overall, every extension that advances a phrase (the next token of
/// the phrase in progress, or the first token of any phrase not yet produced), and each
/// hypothesis's single best extension. They are grouped into banks by met count, and the k beam
/// slots are dealt round-robin from the fullest bank down, best first within a bank, so hypotheses
/// that have placed more constraints keep a share of the beam without crowding out fluent ones.
/// End-of-sentence is only allowed once every phrase is in; a finished hypothesis leaves the beam
/// as in ``BeamSearch/Style/fairseq`` search, and a sentence is done when k have finished or at the
/// length cap (where a hypothesis with every phrase in is preferred to one without).
struct ConstraintState: Equatable {
    /// Bit i: phrase i produced (at most ``BeamSearch/maxConstraints`` phrases; a value type without
    /// a heap allocation, since every candidate of every step carries one).
    var met: UInt64 = 0
    /// The phrase being produced (-1: none) and how many of its tokens are in.
    var phrase: Int32 = -1, done: Int32 = 0
    /// All phrases' bits.
    let all: UInt64

    init(phrases: Int) { all = phrases >= 64 ? ~0 : (UInt64(1) << UInt64(phrases)) - 1 }

    func isMet(_ i: Int) -> Bool { met & (UInt64(1) << UInt64(i)) != 0 }

    /// Constraint tokens produced: whole phrases, and the part of the current one.
    func count(_ phrases: [[Int32]]) -> Int {
        var n = phrase >= 0 ? Int(done) : 0
        for i in phrases.indices where isMet(i) { n += phrases[i].count }
        return n
    }

    var allMet: Bool { met == all }

    /// The tokens that advance a phrase from here.
    func advancing(_ phrases: [[Int32]]) -> [Int32] {
        if phrase >= 0 { return [phrases[Int(phrase)][Int(done)]] }
        var out: [Int32] = []
        for (i, p) in phrases.enumerated() where !isMet(i) && !out.contains(p[0]) { out.append(p[0]) }
        return out
    }

    /// The state after `token`: it continues the current phrase, or (when it does not) drops the
    /// phrase's progress and may start an unmet phrase of its own.
    func after(_ token: Int32, _ phrases: [[Int32]]) -> ConstraintState {
        var s = self
        if phrase >= 0 {
            let p = phrases[Int(phrase)]
            if p[Int(done)] == token {
                if Int(done) + 1 == p.count { s.met |= UInt64(1) << UInt64(phrase); s.phrase = -1; s.done = 0 } else { s.done += 1 }
                return s
            }
            s.phrase = -1; s.done = 0
        }
        if let i = phrases.indices.first(where: { !s.isMet($0) && phrases[$0][0] == token }) {
            if phrases[i].count == 1 { s.met |= UInt64(1) << UInt64(i) } else { s.phrase = Int32(i); s.done = 1 }
        }
        return s
    }
}

extension BeamSearch {
    /// Dynamic beam allocation on a started decoder with one row per sentence; `forced` prefixes are
    /// honoured first (and count towards the constraints they contain).
    func searchConstrained(_ dec: IncrementalDecoder, sentences: Int, start: Int32, maxLength: [Int],
                           forced: [[Int32]], constraints: [[[Int32]]]) -> [[Hypothesis]] {
        let c = dec.model.config, v = c.tgtVocabSize, k = beam
        let pad = c.padId, bos = c.bosId, eos = Int32(c.eosId)
        struct Live { var hyp: Hypothesis; var state: ConstraintState }
        struct Candidate { var score: Float; var beam: Int; var token: Int32; var state: ConstraintState; var met: Int }
        var active = Array(0..<sentences)
        var live = (0..<sentences).map { [Live(hyp: Hypothesis(tokens: [], logProb: 0, score: 0), state: ConstraintState(phrases: constraints[$0].count))] }
        var finished = [[Hypothesis]](repeating: [], count: sentences)
        var width = 1
        var logits = dec.step([Int32](repeating: start, count: sentences))
        var step = 0
        while !active.isEmpty {
            step += 1
            var nextLive: [[Live]] = [], order: [Int] = [], stillActive: [Int] = []
            for (slot, sent) in active.enumerated() {
                let phrases = constraints[sent]
                let atCap = step >= maxLength[sent]
                var candidates: [Candidate] = []
                var seen = Set<Int>()  // beam * v + token
                for (j, h) in live[sent].enumerated() where h.hyp.logProb > -.infinity {
                    let row = logits + (slot * width + j) * v
                    if !repetition.isOff { repetition.apply(toLogits: row, previous: h.hyp.tokens) }
                    let lse = logSumExp(row, v)
                    func add(_ t: Int32) {
                        guard t != eos || h.state.allMet, seen.insert(j * v + Int(t)).inserted else { return }
                        let s = h.state.after(t, phrases)
                        candidates.append(Candidate(score: h.hyp.logProb + row[Int(t)] - lse, beam: j, token: t, state: s,
                                                    met: s.count(phrases)))
                    }
                    if step <= forced[sent].count { add(forced[sent][step - 1]); continue }
                    // This hypothesis's 2k best tokens (pad, bos and, with phrases missing, eos excluded),
                    // its constraint tokens, and so its single best.
                    var best = TopK(capacity: 2 * k)
                    let banEOS = !h.state.allMet
                    best.offer(row, count: v, beam: j, excluding: { $0 == pad || $0 == bos || (banEOS && $0 == Int(eos)) }) { $0 }
                    for item in best.sorted() { add(Int32(item.token)) }
                    for t in h.state.advancing(phrases) { add(t) }
                }
                // Banks by met count, best first; deal k slots round-robin from the fullest bank.
                let total = phrases.reduce(0) { $0 + $1.count }
                var banks = [[Candidate]](repeating: [], count: total + 1)
                for cand in candidates { banks[min(cand.met, total)].append(cand) }
                for b in banks.indices { banks[b].sort { $0.score > $1.score } }
                var chosen: [Candidate] = []
                var next = [Int](repeating: 0, count: banks.count)
                while chosen.count < k {
                    var took = false
                    for b in stride(from: total, through: 0, by: -1) where chosen.count < k && next[b] < banks[b].count {
                        chosen.append(banks[b][next[b]]); next[b] += 1; took = true
                    }
                    if !took { break }
                }
                var kept: [Live] = [], keptRows: [Int] = []
                for cand in chosen {
                    let tokens = live[sent][cand.beam].hyp.tokens + [cand.token]
                    let hyp = Hypothesis(tokens: tokens, logProb: cand.score, score: cand.score / penalty(tokens.count))
                    if cand.token == eos {
                        if finished[sent].count < k { finished[sent].append(hyp) }
                    } else if atCap {
                        kept.append(Live(hyp: hyp, state: cand.state))
                    } else {
                        kept.append(Live(hyp: hyp, state: cand.state))
                        keptRows.append(slot * width + cand.beam)
                    }
                }
                if atCap {
                    // Cut at the cap: the hypotheses with every phrase in, else the ones with most.
                    if finished[sent].count < k {
                        let most = kept.map { $0.state.count(phrases) }.max() ?? 0
                        finished[sent] += kept.filter { $0.state.count(phrases) == most }.map(\.hyp).prefix(k - finished[sent].count)
                    }
                    continue
                }
                if finished[sent].count >= k || kept.isEmpty {
                    if finished[sent].isEmpty { finished[sent] = kept.map(\.hyp) }
                    continue
                }
                while kept.count < k {  // idle rows for missing beams (never extended)
                    kept.append(Live(hyp: Hypothesis(tokens: kept[0].hyp.tokens, logProb: -.infinity, score: -.infinity), state: kept[0].state))
                    keptRows.append(keptRows[0])
                }
                stillActive.append(sent)
                nextLive.append(kept)
                order += keptRows
            }
            if stillActive.isEmpty { break }
            for (i, sent) in stillActive.enumerated() { live[sent] = nextLive[i] }
            active = stillActive
            dec.reorder(order, group: k)
            width = k
            logits = dec.step(nextLive.flatMap { $0.map { $0.hyp.tokens.last! } })
        }
        return finished.map { Array($0.sorted { $0.score > $1.score }.prefix(nBest)) }
    }
}
