import Foundation
import Hummingbird

/// Every way a request can fail, with the HTTP status it answers and a message that says what to
/// do. Rendered as `{"error": "…"}` by `JSONErrorMiddleware`.
public enum ServiceError: Error, Equatable, CustomStringConvertible {
    /// 400: the body is not JSON, or a field has the wrong type or value.
    case badRequest(String)
    /// 413: the body exceeds `--max-request-bytes`, a line exceeds `--max-line-bytes`, or a request
    /// holds more lines than the queue can ever take.
    case tooLarge(String)
    /// 503: the bounded queue is full (the client should retry later) or the server is stopping.
    case unavailable(String)
    /// 404 / 405: no such path, or a path that exists answered for another method.
    case notFound(String)
    case methodNotAllowed(path: String, allowed: [String])
    /// 500: the model failed on an accepted request.
    case internalError(String)

    public var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .tooLarge: .contentTooLarge
        case .unavailable: .serviceUnavailable
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .internalError: .internalServerError
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let m), .tooLarge(let m), .unavailable(let m), .notFound(let m), .internalError(let m): m
        case .methodNotAllowed(let path, let allowed): "\(path) answers \(allowed.joined(separator: ", ")) only"
        }
    }
}
