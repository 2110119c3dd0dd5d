import ArgumentParser
import Foundation
import Seq2SeqKit

struct AttentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Draw what each attention head looks at, as SVG heatmaps (or JSON weights).",
        discussion: """
        Example: seq2seq attention --model runs/de-en --src "Ein Mann fährt Fahrrad." --output att/
        Without --tgt the model's own beam translation is used. For a language model, --src is the prompt.
        """
    )

    enum Format: String, ExpressibleByArgument { case svg, json }

    @Option(help: "Model directory.") var model: String
    @Option(help: "Source sentence (or the prompt, for a language model).") var src: String
    @Option(help: "Target sentence to force (default: the model's own translation).") var tgt: String?
    @Option(help: "Output directory.") var output: String
    @Option(help: "svg (heatmaps and index.html) or json (raw weights).") var format: Format = .svg
    @Option(help: "Beam size for the translation when --tgt is not given.") var beam = BeamSearch.defaultBeam
    @OptionGroup var compute: ComputeOptions

    func validate() throws { try Check.int(beam, "--beam", 1...256) }

    func run() throws {
        compute.apply()
        let net = try ModelDirectory.load(model)
        let vocabs = try ModelDirectory.loadVocabularies(model, for: net.config)
        let source = net.config.isDecoderOnly ? [] : vocabs.source.encode(src)
        var target: [Int32]
        if net.config.isDecoderOnly {
            target = vocabs.target.encode(src)
        } else if let tgt {
            target = vocabs.target.encode(tgt) + [Int32(net.config.eosId)]
        } else {
            let t = Translator(model: net, vocabularies: vocabs, search: BeamSearch(beam: beam))
            let out = try t.translate(ids: [source])
            target = vocabs.target.encode(out[0].text) + [Int32(net.config.eosId)]
            stderrLine("translation: \(out[0].text)")
        }
        let maps = try AttentionMaps.capture(model: net, vocabularies: vocabs, source: source, target: target)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        switch format {
        case .json:
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            try writeAtomically(try e.encode(maps), to: "\(output)/attention.json")
            stderrLine("wrote \(output)/attention.json")
        case .svg:
            let files = try HeatmapSVG.writeAll(maps, to: output, title: "Attention: \(src)")
            stderrLine("wrote \(files.count) heatmaps and \(output)/index.html")
        }
    }
}
