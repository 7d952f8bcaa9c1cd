import Foundation
import HaulIdentity
import HaulMetadata
import HaulProtocol
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Prometheus

/// The `hauld` HTTP application (docs/service.md): routes, authentication, the vault object API, metrics.
///
/// Everything it touches is injected: the metadata store, the blob backend, the CA that signs CSRs, the clock.
/// `hauld serve` wires the real ones; tests pass a SQLite store in a temporary directory and a manual clock.
public enum ServiceApplication {
    /// The dependencies of the routes.
    public struct Dependencies: Sendable {
        public var configuration: ServiceConfiguration
        public var metadata: any MetadataStore
        public var blobs: BlobBackend
        /// Signs server and site certificates (DIR/ca).
        public var authority: CertificateAuthority
        /// The Prometheus registry `/metrics` shows; `hauld` bootstraps swift-metrics with it.
        public var registry: PrometheusCollectorRegistry
        public var now: @Sendable () -> Date
        public var logger: Logger

        public init(
            configuration: ServiceConfiguration, metadata: any MetadataStore, blobs: BlobBackend,
            authority: CertificateAuthority, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
            now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "hauld")
        ) {
            self.configuration = configuration
            self.metadata = metadata
            self.blobs = blobs
            self.authority = authority
            self.registry = registry
            self.now = now
            self.logger = logger
        }
    }

    /// The router with every route of docs/service.md, for tests (`HummingbirdTesting`) and for `build`.
    public static func router(_ dependencies: Dependencies) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        // Outermost: sees the final response, also the JSON error bodies that ErrorMiddleware makes.
        router.add(middleware: RequestObserver(registry: dependencies.registry, logger: dependencies.logger))
        router.add(middleware: ErrorMiddleware())
        let handlers = Handlers(dependencies)
        handlers.addOperationRoutes(to: router)
        handlers.addTokenRoutes(to: router)
        let v1 = router.group("v1").add(middleware: BearerAuthMiddleware(handlers: handlers))
        handlers.addAccountRoutes(to: v1)
        handlers.addVaultRoutes(to: v1)
        handlers.addServerRoutes(to: v1)
        handlers.addObjectRoutes(to: v1)
        return router
    }

    /// The application: HTTPS with the configured key and certificate (plain HTTP when `configuration.tls` is
    /// `nil`), listening on `host:port`, with a background sweep of expired tokens and assertion ids and of trash
    /// past its date. Run it with `runService()` (graceful shutdown on SIGTERM and SIGINT, swift-service-lifecycle).
    public static func build(_ dependencies: Dependencies) throws -> some ApplicationProtocol {
        let configuration = dependencies.configuration
        let server: HTTPServerBuilder
        if let tls = configuration.tls {
            let certificates = try NIOSSLCertificate.fromPEMBytes(Array(tls.certificatePEM.utf8))
            let key = try NIOSSLPrivateKey(bytes: Array(tls.privateKeyPEM.utf8), format: .pem)
            let tlsConfiguration = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
            server = try .tls(.http1(), tlsConfiguration: tlsConfiguration)
        } else {
            server = .http1()
        }
        var app = Application(
            router: router(dependencies), server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "hauld"),
            logger: dependencies.logger)
        app.addServices(
            SweepService(
                metadata: dependencies.metadata, blobs: dependencies.blobs, now: dependencies.now,
                logger: dependencies.logger))
        return app
    }
}
