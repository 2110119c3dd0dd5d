// translate-lines MODEL_DIR [SENTENCE ...]
//
// Translates each SENTENCE, or each line of standard input when none is given, with the model in
// MODEL_DIR (a directory written by `seq2seq train`: config.json, model.safetensors and the
// tokenizer files), and prints one translation per line, in input order.
import Foundation
import Seq2SeqKit

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("translate-lines: \(message)\n".utf8))
    exit(1)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let modelDirectory = arguments.first, !modelDirectory.hasPrefix("-") else {
    fail("usage: translate-lines MODEL_DIR [SENTENCE ...]  (no sentences: reads standard input)")
}
arguments.removeFirst()

do {
    // Matrix products and row-parallel kernels on every core (the library's default is one thread).
    Threads.set(Threads.available)

    // Load the model and its vocabularies; both are checked against config.json.
    let model = try ModelDirectory.load(modelDirectory)
    guard !model.config.isDecoderOnly else { fail("\(modelDirectory) holds a language model, not a translation model") }
    let vocabularies = try ModelDirectory.loadVocabularies(modelDirectory, for: model.config)

    // Beam search with the settings `seq2seq translate` uses by default.
    let translator = Translator(model: model, vocabularies: vocabularies,
                                search: BeamSearch(beam: 5, lengthPenalty: 1.4))

    var sources = arguments
    if sources.isEmpty {
        let input = LineReader(fileDescriptor: 0, name: "<stdin>")
        while let line = try input.nextLine(lenient: false) { sources.append(line.text) }
    }

    // Sentences are batched and sorted by length inside; the outputs come back in input order.
    for output in try translator.translate(sources) {
        print(output.text)
    }
} catch {
    fail("\(error)")
}
