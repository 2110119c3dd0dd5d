import Foundation
import Hummingbird

/// Counts every request by route and status and records its latency (to the response head; for
/// `/generate` the stream goes on after it).
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(route: request.uri.path, status: response.status.code, seconds: (ContinuousClock.now - start).seconds)
        return response
    }
}
