import Foundation

/// Draws an attention matrix as an SVG heatmap: one row per query piece, one column per key piece,
/// darker for more weight, with the pieces as axis labels (UTF-8, escaped for XML).
public enum HeatmapSVG {
    /// An SVG document of `matrix` [rows][columns] (weights in [0, 1]; values outside are clamped, missing
    /// cells are 0), with `title` above it and each cell's value in its tooltip.
    public static func render(_ matrix: [[Float]], rows: [String], columns: [String], title: String) -> String {
        let cell = 22.0
        let labelWidth = Double(min(160, 12 + 7 * (rows.map(\.count).max() ?? 1)))
        let labelHeight = Double(min(160, 12 + 7 * (columns.map(\.count).max() ?? 1)))
        let top = 28 + labelHeight, left = labelWidth + 8
        let width = max(left + cell * Double(columns.count) + 20, 16 + 8.5 * Double(title.count)), height = top + cell * Double(rows.count) + 20
        var s = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"12\">\n", width, height)
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        for (j, label) in columns.enumerated() {
            let x = left + cell * (Double(j) + 0.5)
            s += String(format: "<text transform=\"translate(%.1f,%.1f) rotate(-60)\" text-anchor=\"start\">%@</text>\n", x + 4, top - 6, escape(label))
        }
        for (i, label) in rows.enumerated() {
            let y = top + cell * (Double(i) + 0.5) + 4
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>\n", left - 6, y, escape(label))
            for j in 0..<columns.count {
                let w = i < matrix.count && j < matrix[i].count ? Double(matrix[i][j]) : 0
                let shade = Int((1 - min(1, max(0, w))) * 255)
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,255)\" stroke=\"#eee\"><title>%@ → %@: %.3f</title></rect>\n",
                            left + cell * Double(j), top + cell * Double(i), cell, cell, shade, shade,
                            escape(label), escape(columns[j]), w)
            }
        }
        s += "</svg>\n"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Writes every map of `maps` as SVG files plus an index.html that shows them all.
    public static func writeAll(_ maps: AttentionMaps, to dir: String, title: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [(String, String)] = []
        func emit(_ name: String, _ m: [[Float]], _ rows: [String], _ cols: [String], _ caption: String) throws {
            try writeAtomically(Data(render(m, rows: rows, columns: cols, title: caption).utf8), to: "\(dir)/\(name)")
            files.append((name, caption))
        }
        func average(_ heads: [[[Float]]]) -> [[Float]] {
            guard let first = heads.first else { return [] }
            return first.indices.map { i in first[i].indices.map { j in heads.map { $0[i][j] }.reduce(0, +) / Float(heads.count) } }
        }
        for (l, heads) in maps.cross.enumerated() {
            try emit("cross_layer\(l)_mean.svg", average(heads), maps.targetPieces, maps.sourcePieces, "cross-attention, layer \(l), mean of heads")
            for (h, m) in heads.enumerated() {
                try emit("cross_layer\(l)_head\(h).svg", m, maps.targetPieces, maps.sourcePieces, "cross-attention, layer \(l), head \(h)")
            }
        }
        for (l, heads) in maps.encoderSelf.enumerated() {
            try emit("encoder_layer\(l)_mean.svg", average(heads), maps.sourcePieces, maps.sourcePieces, "encoder self-attention, layer \(l), mean of heads")
            for (h, m) in heads.enumerated() {
                try emit("encoder_layer\(l)_head\(h).svg", m, maps.sourcePieces, maps.sourcePieces, "encoder self-attention, layer \(l), head \(h)")
            }
        }
        for (l, heads) in maps.decoderSelf.enumerated() {
            try emit("decoder_layer\(l)_mean.svg", average(heads), maps.targetPieces, maps.decoderInputPieces, "decoder self-attention, layer \(l), mean of heads")
            for (h, m) in heads.enumerated() {
                try emit("decoder_layer\(l)_head\(h).svg", m, maps.targetPieces, maps.decoderInputPieces, "decoder self-attention, layer \(l), head \(h)")
            }
        }
        var html = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>\(escape(title))</title>\n"
        html += "<style>body{font-family:sans-serif;margin:24px} figure{display:inline-block;margin:8px;vertical-align:top} figcaption{font-size:13px}</style></head><body>\n"
        html += "<h1>\(escape(title))</h1>\n"
        for (name, caption) in files {
            html += "<figure><img src=\"\(name)\" alt=\"\(escape(caption))\"><figcaption>\(escape(caption))</figcaption></figure>\n"
        }
        html += "</body></html>\n"
        try writeAtomically(Data(html.utf8), to: "\(dir)/index.html")
        return files.map(\.0)
    }
}
