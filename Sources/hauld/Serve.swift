import ArgumentParser
import Foundation
import HaulMetadata
import HaulProtocol
import HaulService
import HaulStorageS3
import Logging
import Metrics
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service over HTTPS until SIGTERM or SIGINT (graceful stop).",
        discussion: """
            On first start, DIR gets metadata.sqlite, blobs/, tls/ (a self-signed key and certificate for \
            localhost and 127.0.0.1) and ca/ (the authority that signs callers' certificates).

            Example:
              hauld serve --data /var/lib/hauld --listen 0.0.0.0:8443
              hauld serve --data /var/lib/hauld --database postgres://hauld@db:5432/hauld \\
                --blobs 's3://haul-vaults/prod?endpoint=https://s3.example.net&region=us-east-1'
            Several instances may share one PostgreSQL database and one bucket; give them the same tls/ and ca/.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "Address and port to listen on.")
    var listen: String = "127.0.0.1:8443"

    @Option(help: "The URL clients use (token audience); default https://LISTEN.")
    var url: String?

    @Option(help: "TLS certificate chain (PEM) instead of DIR/tls/cert.pem.")
    var tlsCert: String?

    @Option(help: "TLS private key (PEM, mode 0600) instead of DIR/tls/key.pem.")
    var tlsKey: String?

    @Option(
        help: ArgumentHelp(
            "Keep blobs in an S3-compatible store instead of DIR/blobs: s3://BUCKET/PREFIX?endpoint=URL&region=R "
                + "(credentials from HAUL_S3_ACCESS_KEY and HAUL_S3_SECRET_KEY; the bucket is created if missing).",
            valueName: "url"))
    var blobs: String?

    @Option(help: "Largest object body accepted, in bytes.")
    var maxObjectSize: Int = 256 * 1024 * 1024

    @Flag(help: "Print the start-up summary as JSON.")
    var json = false

    struct StartInfo: Encodable {
        var url: String
        var listen: String
        var pin: String
        var data: String
    }

    func run() async throws {
        do {
            try await serve()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw fail(error, json: json)
        }
    }

    private func serve() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (1...65_535).contains(port)
        else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8443")
        }
        let host = String(listen[..<colon])
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("give both --tls-cert and --tls-key, or neither")
        }
        let directory = ServiceDirectory(root: store.data)
        try directory.prepare()
        let now = Date()
        let authority = try directory.certificateAuthority(now: now)
        let tls: ServiceConfiguration.TLSFiles
        if let tlsCert, let tlsKey {
            tls = try ServiceDirectory.tlsFiles(certificate: tlsCert, key: tlsKey)
        } else {
            tls = try directory.tlsCredentials(now: now, hostnames: host == "0.0.0.0" ? [] : [host])
        }
        let pin = try ServiceDirectory.pin(certificatePEM: tls.certificatePEM)
        let serviceURL = url ?? "https://\(host):\(port)"
        let configuration = ServiceConfiguration(
            host: host, port: port, serviceURL: serviceURL, maximumObjectSize: maxObjectSize, tls: tls)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "hauld")
        logger.logLevel = .info
        let s3: S3BlobStore?
        if let blobs {
            // Uploads are streamed into unlinked files under DIR/staging, then sent part by part.
            var options = S3BlobStore.Options()
            options.stagingDirectory = try directory.stagingPath()
            let root = try S3BlobStore(
                location: try S3Location(url: blobs), credentials: try .fromEnvironment(), options: options)
            try await root.createBucketIfMissing()
            s3 = root
        } else {
            s3 = nil
        }
        let backend: BlobBackend =
            if let s3 { BlobBackend { prefix in s3.withPrefix(prefix) } } else {
                .fileSystem(root: directory.blobsPath)
            }
        do {
            try await store.withMetadata { metadata in
                let app = try ServiceApplication.build(
                    ServiceApplication.Dependencies(
                        configuration: configuration, metadata: metadata, blobs: backend, authority: authority,
                        registry: registry, logger: logger))
                try emit(StartInfo(url: serviceURL, listen: listen, pin: pin, data: store.data), json: json) {
                    """
                    hauld listening on \(serviceURL)
                    TLS public key pin (SPKI SHA-256): \(pin)
                    Bootstrap a customer:
                      hauld admin subscription create NAME --data \(store.data)
                      hauld admin credential --subscription ID --out admin.json --data \(store.data) --url \(serviceURL)
                    """
                }
                try await app.runService()
            }
        } catch {
            try? await s3?.shutdown()
            throw error
        }
        try? await s3?.shutdown()
    }
}
