import Foundation
import Hummingbird

/// Turns every error into a JSON answer `{"error": "…"}` with its status: our `ServiceError`s,
/// Hummingbird's own `HTTPError`s (an unknown path is a 404 here; a known path asked with another
/// method becomes a 405 with an `Allow` header), and anything else as a 500. Nothing escapes as
/// a bare connection close.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Known paths and the methods each answers, for 405s.
    let routes: [String: [String]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServiceError {
            return Self.response(error)
        } catch let error as HTTPError {
            if error.status == .notFound {
                let path = request.uri.path
                if let allowed = routes[path] {
                    return Self.response(.methodNotAllowed(path: path, allowed: allowed))
                }
                return Self.response(.notFound("no such path: \(request.method) \(path) (see GET / for the page; POST /translate, GET /health, /metrics, /languages)"))
            }
            return Self.response(status: error.status, message: error.body ?? error.status.reasonPhrase)
        } catch {
            return Self.response(.internalError("\(error)"))
        }
    }

    static func response(_ error: ServiceError) -> Response {
        var r = response(status: error.status, message: error.description)
        if case .methodNotAllowed(_, let allowed) = error { r.headers[.allow] = allowed.joined(separator: ", ") }
        if case .unavailable = error { r.headers[.retryAfter] = "1" }
        return r
    }

    static func response(status: HTTPResponse.Status, message: String) -> Response {
        JSONResponse.make(["error": message], status: status)
    }
}

/// JSON bodies for responses.
enum JSONResponse {
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own plain types cannot fail; if it ever did, say so rather than trap.
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"could not encode the response"}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
