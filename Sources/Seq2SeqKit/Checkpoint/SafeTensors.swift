import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the
/// raw little-endian data. Reading is strict: every inconsistency is an error naming the file
/// (and the tensor).
///
/// A value holds the whole file (memory-mapped when possible) and is read-only after `init`: reads
/// from several threads are safe.
public struct SafeTensors {
    /// A tensor's element type, spelled as in the header (`"F32"`, `"I8"`, …). The public readers take
    /// F32 (``readFloats(_:shape:into:)``), I8 (``readInt8s(_:shape:into:)``) and I64 (``int64s(_:)``).
    public enum DType: String, Sendable {
        case f32 = "F32", i64 = "I64", f16 = "F16", bf16 = "BF16", i32 = "I32", f64 = "F64", u8 = "U8", i8 = "I8", bool = "BOOL"
        var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .u8, .i8, .bool: return 1
            }
        }
    }

    /// One header entry: where a tensor's bytes are and how to read them.
    public struct Tensor: Sendable {
        /// The element type.
        public let dtype: DType
        /// The dimensions, outermost first (row-major); `[]` for a scalar.
        public let shape: [Int]
        /// Byte range inside the data section.
        public let range: Range<Int>
        /// The number of elements (the product of ``shape``; 1 for a scalar).
        public var count: Int { shape.reduce(1, *) }
    }

    /// Why a safetensors file cannot be read or written; every case names the file (the first value).
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        /// The file cannot be read, written or renamed into place (file, reason).
        case io(String, String)
        /// The file ends before its header or a tensor's data (file, what is missing).
        case truncated(String, String)
        /// The header is not a valid safetensors header (file, what is wrong).
        case header(String, String)
        /// One tensor is missing, malformed or of an unexpected dtype or shape (file, tensor name, what is wrong).
        case tensor(String, String, String)

        /// The message, naming the file (and the tensor) and, where it helps, what to do.
        public var description: String {
            switch self {
            case .io(let f, let m): return "\(f): \(m)"
            case .truncated(let f, let m): return "\(f): truncated file: \(m); the file is incomplete, copy or save it again"
            case .header(let f, let m): return "\(f): bad safetensors header: \(m)"
            case .tensor(let f, let n, let m): return "\(f): tensor '\(n)': \(m)"
            }
        }
    }

    /// Headers larger than this are refused (the format's reference implementation uses 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// The file's path, as given (used in error messages).
    public let path: String
    /// The header's `__metadata__` (empty when there is none).
    public let metadata: [String: String]
    /// The header's tensors by name.
    public let tensors: [String: Tensor]
    let data: Data        // the whole file
    let dataStart: Int    // where the data section begins

    /// The tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// Opens and checks a safetensors file (memory-mapped when the file system allows it).
    ///
    /// Only the header is parsed here; tensors are copied out when read.
    /// - Throws: ``Error/io(_:_:)`` if the file cannot be read, and the errors of ``init(data:path:)``.
    public init(contentsOf path: String) throws {
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw Error.io(path, "cannot read: \(error.localizedDescription)")
        }
        try self.init(data: bytes, path: path)
    }

    /// Parses safetensors bytes; `path` names them in errors.
    ///
    /// The checks are strict: a header of at most ``maxHeaderBytes``, known dtypes, non-negative shapes
    /// whose byte size matches `data_offsets`, and tensors that tile the data section (no overlap, no hole,
    /// nothing after the last one).
    /// - Throws: ``Error/truncated(_:_:)``, ``Error/header(_:_:)`` or ``Error/tensor(_:_:_:)``, naming
    ///   what is wrong.
    public init(data bytes: Data, path: String) throws {
        self.path = path
        guard bytes.count >= 8 else { throw Error.truncated(path, "\(bytes.count) bytes, no header length") }
        let n = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(Self.maxHeaderBytes) else {
            throw Error.header(path, "header length \(n) exceeds \(Self.maxHeaderBytes) bytes; not a safetensors file?")
        }
        guard Int(n) <= bytes.count - 8 else {
            throw Error.truncated(path, "header of \(n) bytes but only \(bytes.count - 8) follow")
        }
        let headerData = bytes.subdata(in: 8..<(8 + Int(n)))
        guard let json = try? JSONSerialization.jsonObject(with: headerData), let dict = json as? [String: Any] else {
            throw Error.header(path, "not a JSON object")
        }
        var meta: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        let dataLength = bytes.count - 8 - Int(n)
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw Error.header(path, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw Error.header(path, "__metadata__ value '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any], let dt = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offs = info["data_offsets"] as? [Int], offs.count == 2
            else { throw Error.tensor(path, name, "needs dtype, shape and data_offsets [begin, end]") }
            guard let dtype = DType(rawValue: dt) else { throw Error.tensor(path, name, "unknown dtype \(dt)") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw Error.tensor(path, name, "negative dimension in \(shape)") }
            guard offs[0] >= 0, offs[0] <= offs[1] else { throw Error.tensor(path, name, "bad data_offsets \(offs)") }
            guard offs[1] <= dataLength else {
                throw Error.truncated(path, "tensor '\(name)' ends at byte \(offs[1]) of a \(dataLength)-byte data section")
            }
            // The byte size, refusing products that overflow (a header may claim any shape).
            var need = dtype.size
            for d in shape {
                let (v, overflow) = need.multipliedReportingOverflow(by: d)
                guard !overflow else { throw Error.tensor(path, name, "shape \(shape) is too large to address") }
                need = v
            }
            guard need == offs[1] - offs[0] else {
                throw Error.tensor(path, name, "shape \(shape) of \(dt) needs \(need) bytes, data_offsets hold \(offs[1] - offs[0])")
            }
            tensors[name] = Tensor(dtype: dtype, shape: shape, range: offs[0]..<offs[1])
        }
        // As the format requires, the tensors tile the data section: no overlaps, no holes.
        var at = 0
        for (name, t) in tensors.sorted(by: { ($0.value.range.lowerBound, $0.value.range.upperBound) < ($1.value.range.lowerBound, $1.value.range.upperBound) }) {
            if t.range.lowerBound < at { throw Error.tensor(path, name, "data_offsets \(t.range) overlap the previous tensor's bytes (up to \(at))") }
            if t.range.lowerBound > at { throw Error.tensor(path, name, "data_offsets start at \(t.range.lowerBound), leaving a hole after byte \(at)") }
            at = t.range.upperBound
        }
        guard at == dataLength else {
            throw Error.header(path, "the tensors cover \(at) of the \(dataLength) data bytes; the rest is not indexed")
        }
        self.metadata = meta
        self.tensors = tensors
        self.data = bytes
        self.dataStart = 8 + Int(n)
    }

    /// The header entry of `name`.
    /// - Throws: ``Error/tensor(_:_:_:)`` if the file has no such tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw Error.tensor(path, name, "not in the file") }
        return t
    }

    /// Copies an F32 tensor into `destination` (count elements), checking dtype and shape.
    /// - Parameters:
    ///   - name: The tensor's name.
    ///   - shape: The shape it must have; nil accepts any.
    ///   - destination: Room for the tensor's ``Tensor/count`` floats, written in the file's (row-major) order.
    /// - Throws: ``Error/tensor(_:_:_:)`` if the tensor is missing, is not F32, or has another shape.
    public func readFloats(_ name: String, shape: [Int]? = nil, into destination: FloatPtr) throws {
        let t = try tensor(name)
        guard t.dtype == .f32 else {
            let hint = t.dtype == .i8 ? " (an int8 tensor: is config.json's \"quantization\" missing, or is this a quantized model where a float one is needed?)" : ""
            throw Error.tensor(path, name, "dtype \(t.dtype.rawValue), expected F32\(hint)")
        }
        if let shape, shape != t.shape { throw Error.tensor(path, name, "shape \(t.shape), expected \(shape)") }
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + t.range.lowerBound
            memcpy(destination, src, t.range.count)
        }
    }

    /// Copies an I8 tensor into `destination` (count elements), checking dtype and shape.
    /// - Throws: ``Error/tensor(_:_:_:)`` if the tensor is missing, is not I8, or has another shape.
    public func readInt8s(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Int8>) throws {
        let t = try tensor(name)
        guard t.dtype == .i8 else { throw Error.tensor(path, name, "dtype \(t.dtype.rawValue), expected I8 (a quantized model's matrix)") }
        guard shape == t.shape else { throw Error.tensor(path, name, "shape \(t.shape), expected \(shape)") }
        data.withUnsafeBytes { raw in
            _ = memcpy(destination, raw.baseAddress! + dataStart + t.range.lowerBound, t.range.count)
        }
    }

    /// An F32 tensor's elements, row-major.
    /// - Throws: ``Error/tensor(_:_:_:)`` if the tensor is missing or is not F32.
    public func floats(_ name: String) throws -> [Float] {
        let t = try tensor(name)
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try readFloats(name, into: $0.baseAddress!) }
        return out
    }

    /// An I64 tensor's elements, row-major.
    /// - Throws: ``Error/tensor(_:_:_:)`` if the tensor is missing or is not I64.
    public func int64s(_ name: String) throws -> [Int64] {
        let t = try tensor(name)
        guard t.dtype == .i64 else { throw Error.tensor(path, name, "dtype \(t.dtype.rawValue), expected I64") }
        var out = [Int64](repeating: 0, count: t.count)
        data.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + t.range.lowerBound)..<(dataStart + t.range.upperBound)]))
            }
        }
        return out
    }

    // MARK: - Writing

    /// A tensor to write: name, dtype, shape and its little-endian bytes.
    public struct Entry {
        /// The tensor's name, dtype, shape (row-major) and little-endian bytes (element count × the dtype's size).
        public let name: String, dtype: DType, shape: [Int], bytes: Data
        /// An entry from its parts; `bytes` is not checked against `dtype` and `shape`.
        public init(name: String, dtype: DType, shape: [Int], bytes: Data) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }
        /// An F32 entry copying the product of `shape` floats from `p` (the copy is made now).
        public static func f32(_ name: String, _ shape: [Int], _ p: ConstFloatPtr) -> Entry {
            Entry(name: name, dtype: .f32, shape: shape, bytes: Data(bytes: p, count: shape.reduce(1, *) * 4))
        }
        /// An F32 entry holding `values` (their count must be the product of `shape`).
        public static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> Entry {
            Entry(name: name, dtype: .f32, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
        }
        /// An I8 entry holding `values` (their count must be the product of `shape`).
        public static func i8(_ name: String, _ shape: [Int], _ values: [Int8]) -> Entry {
            Entry(name: name, dtype: .i8, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
        }
        /// An I64 entry holding `values` (their count must be the product of `shape`).
        public static func i64(_ name: String, _ shape: [Int], _ values: [Int64]) -> Entry {
            Entry(name: name, dtype: .i64, shape: shape, bytes: values.withUnsafeBytes { Data($0) })
        }
    }

    /// Serializes tensors (in the given order) with an 8-byte aligned header.
    /// - Parameters:
    ///   - entries: The tensors; their names must be distinct and not `__metadata__`.
    ///   - metadata: Written as `__metadata__` when not empty.
    /// - Returns: The file's bytes.
    public static func serialize(_ entries: [Entry], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]]
            offset += e.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces, as the reference writer does
        var out = Data(capacity: 8 + json.count + offset)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for e in entries { out.append(e.bytes) }
        return out
    }

    /// Writes atomically: to a temporary file beside `path`, then renamed over it, so an existing
    /// file is never left half-written.
    /// - Throws: ``Error/io(_:_:)`` if the file cannot be written or renamed into place.
    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to path: String) throws {
        try writeAtomically(try serialize(entries, metadata: metadata), to: path)
    }
}

/// Writes `data` to a temporary file in the same directory and renames it over `path`.
///
/// The temporary file is flushed to disk before the rename, and the directory after it, so after a
/// crash `path` holds either the old or the new contents.
/// - Throws: ``SafeTensors/Error/io(_:_:)`` if the data cannot be written or renamed into place (the
///   temporary file is then removed).
public func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    do {
        try data.write(to: tmp)
        // Durable: the data reaches the disk before the rename, and the rename before we return.
        let fd = open(tmp.path, O_RDWR)
        if fd >= 0 { fsync(fd); close(fd) }
        if rename(tmp.path, url.path) != 0 {
            let err = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw SafeTensors.Error.io(path, "cannot rename the temporary file into place: \(err)")
        }
        syncDirectory(url.deletingLastPathComponent().path)
    } catch let e as SafeTensors.Error {
        throw e
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw SafeTensors.Error.io(path, "cannot write: \(error.localizedDescription)")
    }
}
