import Foundation

/// The tokenizer files of a Hugging Face Marian model, kept under their own names in our model
/// directory (`seq2seq import` copies them).
public enum MarianFiles {
    /// The SentencePiece models that cut the source and the target text into pieces.
    public static let sourceSPM = "source.spm", targetSPM = "target.spm"
    /// piece → id maps: vocab.json for both sides (or the source alone), target_vocab.json for the target
    /// when the model's vocabularies are separate.
    public static let vocab = "vocab.json", targetVocab = "target_vocab.json"
}

extension Vocabularies {
    /// source.spm + target.spm with vocab.json (shared by both sides) or vocab.json (source) and
    /// target_vocab.json (target), as MarianTokenizer reads them.
    /// - Throws: ``VocabularyError/file(_:_:)`` if target.spm or vocab.json is missing, ``SentencePieceError``
    ///   if a file is missing, damaged or of an unsupported kind.
    public static func loadMarian(from dir: String) throws -> Vocabularies {
        let fm = FileManager.default
        let src = "\(dir)/\(MarianFiles.sourceSPM)", tgt = "\(dir)/\(MarianFiles.targetSPM)"
        let vocab = "\(dir)/\(MarianFiles.vocab)", targetVocab = "\(dir)/\(MarianFiles.targetVocab)"
        for f in [tgt, vocab] where !fm.fileExists(atPath: f) {
            throw VocabularyError.file(f, "not found; a Marian model directory holds source.spm, target.spm and vocab.json (run `seq2seq import` again)")
        }
        let separate = fm.fileExists(atPath: targetVocab)
        let source = try SentencePieceVocabulary(spm: src, vocab: vocab, detokenizerSPM: nil,
                                                 names: [(MarianFiles.sourceSPM, src), (MarianFiles.vocab, vocab)])
        let target = separate
            ? try SentencePieceVocabulary(spm: tgt, vocab: targetVocab, detokenizerSPM: nil,
                                          names: [(MarianFiles.targetSPM, tgt), (MarianFiles.targetVocab, targetVocab)])
            : try SentencePieceVocabulary(spm: tgt, vocab: vocab, detokenizerSPM: src, names: [(MarianFiles.targetSPM, tgt)])
        return Vocabularies(source: Vocabulary(sentencePiece: source), target: Vocabulary(sentencePiece: target))
    }
}
