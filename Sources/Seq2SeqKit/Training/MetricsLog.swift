import Foundation

/// metrics.jsonl (one JSON object per step and per validation) and training.svg.
final class MetricsLog {
    struct Point { var step: Int; var value: Double }
    let path: String
    var trainLoss: [Point] = [], validLoss: [Point] = [], bleu: [Point] = []
    private var handle: FileHandle?
    /// Lines of an existing metrics.jsonl that were not JSON objects with a step (dropped on resume).
    private(set) var damagedLines = 0

    init(directory: String, keepUpTo step: Int?) throws {
        path = "\(directory)/\(TrainingFiles.metrics)"
        let fm = FileManager.default
        var kept: [String] = []
        if let step, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            // Resuming: keep what the checkpoint had seen, drop lines written after it.
            for line in text.split(separator: "\n") {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let s = obj["step"] as? Int else { damagedLines += 1; continue }
                guard s <= step else { continue }
                kept.append(String(line))
                record(obj)
            }
        }
        try (kept.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
        if !fm.fileExists(atPath: path) { _ = fm.createFile(atPath: path, contents: nil) }
        handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
    }

    private func record(_ obj: [String: Any]) {
        guard let s = obj["step"] as? Int else { return }
        if let l = obj["loss"] as? Double { trainLoss.append(Point(step: s, value: l)) }
        if let l = obj["valid_loss"] as? Double { validLoss.append(Point(step: s, value: l)) }
        if let b = obj["bleu"] as? Double { bleu.append(Point(step: s, value: b)) }
    }

    func write(_ obj: [String: Any]) {
        record(obj)
        guard let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) else { return }
        handle?.write(data + Data("\n".utf8))
    }

    /// Training loss (averaged over windows), validation loss, and BLEU on its own axis when validation scores
    /// translations (a language model has none), against steps.
    func plot(to file: String) {
        let w = 720.0, h = 360.0, left = 60.0, right = 60.0, top = 30.0, bottom = 40.0
        let pw = w - left - right, ph = h - top - bottom
        let window = max(1, trainLoss.count / 300)
        var smoothed: [Point] = []
        var i = 0
        while i < trainLoss.count {
            let chunk = trainLoss[i..<min(i + window, trainLoss.count)]
            smoothed.append(Point(step: chunk.last!.step, value: chunk.map(\.value).reduce(0, +) / Double(chunk.count)))
            i += window
        }
        let maxStep = Double(max(1, (smoothed.map(\.step) + validLoss.map(\.step)).max() ?? 1))
        let losses = smoothed.map(\.value) + validLoss.map(\.value)
        let lmax = (losses.max() ?? 1) * 1.05, lmin = max(0, (losses.min() ?? 0) * 0.95)
        let bmax = max(1, (bleu.map(\.value).max() ?? 1) * 1.1)
        func x(_ s: Int) -> Double { left + pw * Double(s) / maxStep }
        func yl(_ v: Double) -> Double { top + ph * (1 - (v - lmin) / max(1e-9, lmax - lmin)) }
        func yb(_ v: Double) -> Double { top + ph * (1 - v / bmax) }
        func line(_ pts: [Point], _ y: (Double) -> Double, _ color: String, dots: Bool = false) -> String {
            guard !pts.isEmpty else { return "" }
            let p = pts.map { String(format: "%.1f,%.1f", x($0.step), y($0.value)) }.joined(separator: " ")
            var s = "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(p)\"/>\n"
            if dots { for q in pts { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>\n", x(q.step), y(q.value), color) } }
            return s
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#999\"/>\n", left, top, pw, ph)
        for k in 0...4 {
            let v = lmin + (lmax - lmin) * Double(k) / 4, yy = yl(v)
            svg += String(format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", left - 4, yy + 4, v)
            if !bleu.isEmpty {
                let b = bmax * Double(k) / 4
                svg += String(format: "<text x=\"%.0f\" y=\"%.1f\" fill=\"#2a7\">%.1f</text>\n", w - right + 4, yb(b) + 4, b)
            }
            let st = Int(maxStep * Double(k) / 4)
            svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", x(st), h - bottom + 16, st)
        }
        svg += "<text x=\"\(Int(left + pw / 2))\" y=\"\(Int(h - 6))\" text-anchor=\"middle\">step</text>\n"
        svg += "<text x=\"\(Int(left))\" y=\"18\" fill=\"#36c\">training loss</text>"
        svg += "<text x=\"\(Int(left + 110))\" y=\"18\" fill=\"#c33\">validation loss</text>"
        if !bleu.isEmpty { svg += "<text x=\"\(Int(left + 230))\" y=\"18\" fill=\"#2a7\">BLEU (right axis)</text>" }
        svg += "\n"
        svg += line(smoothed, yl, "#36c") + line(validLoss, yl, "#c33", dots: true) + line(bleu, yb, "#2a7", dots: true)
        svg += "</svg>\n"
        try? writeAtomically(Data(svg.utf8), to: file)
    }
}
