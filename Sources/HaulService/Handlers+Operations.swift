import HaulProtocol
import Hummingbird

extension Handlers {
    /// `/healthz` (the metadata store answers) and `/metrics` (Prometheus text).
    func addOperationRoutes(to router: Router<ServiceRequestContext>) {
        router.get(RouterPath(APIRoute.healthz)) { _, _ in
            do {
                _ = try await metadata.appliedMigrations()
            } catch {
                throw APIError(.unavailable, "the metadata store does not answer")
            }
            return try json(HealthResponse())
        }
        router.get(RouterPath(APIRoute.metrics)) { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            let bytes = dependencies.registry.emitToBuffer()
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
