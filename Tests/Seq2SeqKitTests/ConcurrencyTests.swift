import Foundation
import XCTest
import Seq2SeqKit

/// Two translators over one model, on two threads at once, give exactly what each gives alone:
/// each owns its workspaces (encoder activations, KV cache, scratch), the model's weights are only read.
final class ConcurrencyTests: XCTestCase {
    func testTwoTranslatorsOnTwoThreads() throws {
        Threads.set(1)
        let pairs = TrainingTests.pairs
        let v = try Vocabulary.learn(lines: pairs.map(\.0) + pairs.map(\.1), size: 320)
        let config = ModelConfig(srcVocabSize: v.count, tgtVocabSize: v.count, dModel: 32, nHeads: 4, dFF: 64,
                                 encoderLayers: 2, decoderLayers: 2, maxPositions: 64, shareEmbeddings: true, dropout: 0)
        let model = try Transformer(config: config)
        model.initialize(seed: 11)
        let vocabs = Vocabularies(joint: v)
        // Different inputs and different searches on the two threads.
        let inputs = [pairs.map(\.0), pairs.map(\.0).reversed() + ["Ein Hund.", "Zwei Katzen schlafen im Garten."]]
        let searches = [BeamSearch(beam: 4, lengthPenalty: 1.0), BeamSearch(beam: 1)]
        func translator(_ k: Int) -> Translator {
            let t = Translator(model: model, vocabularies: vocabs, search: searches[k])
            t.batchSize = 3 + k
            t.maxOutput = 12
            return t
        }
        let alone = try (0..<2).map { try translator($0).translate(inputs[$0]).map(\.text) }
        XCTAssertNotEqual(alone[0], alone[1])
        final class Results: @unchecked Sendable { var texts = [[[String]]](repeating: [], count: 2); var errors: [Error] = [] }
        let results = Results()
        let lock = NSLock()
        let translators = [translator(0), translator(1)]
        let box = UncheckedSendable(translators)
        let inputBox = UncheckedSendable(inputs)
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            do {
                var mine: [[String]] = []
                for _ in 0..<15 { mine.append(try box.value[k].translate(inputBox.value[k]).map(\.text)) }
                lock.lock(); results.texts[k] = mine; lock.unlock()
            } catch { lock.lock(); results.errors.append(error); lock.unlock() }
        }
        XCTAssertTrue(results.errors.isEmpty, "\(results.errors)")
        for k in 0..<2 {
            XCTAssertEqual(results.texts[k].count, 15)
            for run in results.texts[k] { XCTAssertEqual(run, alone[k], "thread \(k)") }
        }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
