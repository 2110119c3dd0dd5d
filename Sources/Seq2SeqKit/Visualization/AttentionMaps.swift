import Foundation

/// Attention weights of one sentence (pair), captured on request from the same passes translation
/// uses: the encoder forward pass and the KV-cached decoder fed the target tokens one by one.
/// Each map is [layer][head][query][key]; rows sum to 1 and masked keys are 0.
public struct AttentionMaps: Codable, Sendable {
    /// Column labels of the encoder and cross-attention maps: the source pieces, </s> included (empty for
    /// a decoder-only model).
    public var sourcePieces: [String]
    /// Row labels: for an encoder-decoder model the token each position produces (so a cross-attention
    /// row reads as an alignment of that output token); for a decoder-only model the token it reads.
    public var targetPieces: [String]
    /// Decoder self-attention key labels: the tokens the decoder reads ([bos] + target).
    public var decoderInputPieces: [String]
    /// Encoder self-attention (source × source); empty for a decoder-only model.
    public var encoderSelf: [[[[Float]]]]
    /// Decoder self-attention (target × target, causal).
    public var decoderSelf: [[[[Float]]]]
    /// Cross-attention (target × source); empty for a decoder-only model.
    public var cross: [[[[Float]]]]

    enum CodingKeys: String, CodingKey {
        case sourcePieces = "source_pieces", targetPieces = "target_pieces", decoderInputPieces = "decoder_input_pieces"
        case encoderSelf = "encoder_self"
        case decoderSelf = "decoder_self", cross
    }

    /// Captures the maps for `source` (encoder-decoder) and `target` ids (ending with </s>). An
    /// encoder-decoder model reads [bos] + target without its last token, so row i is the position
    /// that produces target[i]; a decoder-only model reads the target (the prompt) itself.
    public static func capture(model: Transformer, vocabularies v: Vocabularies, source: [Int32], target: [Int32]) throws -> AttentionMaps {
        let c = model.config
        let layers = c.decoderLayers, heads = c.nHeads
        var maps = AttentionMaps(sourcePieces: [], targetPieces: [], decoderInputPieces: [], encoderSelf: [],
                                 decoderSelf: [], cross: [])
        let dec = IncrementalDecoder(model: model)
        let input: [Int32]
        if c.isDecoderOnly {
            input = target.isEmpty ? [Int32(c.bosId)] : Array(target.suffix(c.maxPositions))
            dec.start(rows: 1, capacity: input.count)
        } else {
            let src = Array(source.prefix(c.maxPositions - 1)) + [Int32(c.eosId)]
            // Teacher forcing: position i reads ([bos] + target)[i] and produces target[i].
            let produced = Array(target.prefix(c.maxPositions))
            input = [Int32(c.bosId)] + produced.dropLast()
            let (memory, valid) = try model.encode(src: src, batch: 1, length: src.count)
            maps.encoderSelf = model.encoderSelfAttention(length: src.count)
            dec.start(rows: 1, capacity: input.count, memory: memory, sourceLength: src.count, sourceValid: valid)
            maps.sourcePieces = v.source.displayPieces(src)
            maps.cross = Array(repeating: Array(repeating: [], count: heads), count: layers)
        }
        maps.decoderInputPieces = v.target.displayPieces(input)
        maps.targetPieces = c.isDecoderOnly ? maps.decoderInputPieces
            : v.target.displayPieces(Array(input.dropFirst()) + [target.prefix(c.maxPositions).last ?? Int32(c.eosId)])
        maps.decoderSelf = Array(repeating: Array(repeating: [], count: heads), count: layers)
        let n = input.count
        dec.attentionObserver = { layer, cross, _, head, probs in
            // Self-attention rows grow with the step; pad them to the full target length.
            if cross {
                maps.cross[layer][head].append(Array(probs))
            } else {
                maps.decoderSelf[layer][head].append(Array(probs) + [Float](repeating: 0, count: n - probs.count))
            }
        }
        for t in input { dec.step([t]) }
        dec.attentionObserver = nil
        return maps
    }
}

extension Transformer {
    /// The encoder's self-attention probabilities of the last `encode` call for a batch of one:
    /// [layer][head][query][key].
    func encoderSelfAttention(length s: Int) -> [[[[Float]]]] {
        guard let acts = encoderActs else { return [] }
        return acts.layers.map { l in
            (0..<config.nHeads).map { h in
                (0..<s).map { i in Array(UnsafeBufferPointer(start: l.selfAttention.probs.pointer + (h * s + i) * s, count: s)) }
            }
        }
    }
}

extension Vocabulary {
    /// Pieces as labels: "▁" shown as a visible word start, byte tokens as <0x..>, specials as they are.
    func displayPieces(_ ids: [Int32]) -> [String] {
        pieces(of: ids).map { $0 == "\n" ? "\\n" : $0 == " " ? "␣" : $0 }
    }
}
