// swift-tools-version: 6.2
// The target graph is the architecture (docs/architecture.md): arrows point down only.
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "Haul",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "haul", targets: ["haul"]),
        .executable(name: "hauld", targets: ["hauld"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // System and C shims.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "CLinux"),

        // Value types and byte codecs; imports nothing of ours.
        .target(name: "HaulFormat", swiftSettings: strict),
        .target(name: "HaulChunker", dependencies: ["HaulFormat"], swiftSettings: strict),
        .target(
            name: "HaulCrypto",
            dependencies: [
                "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Optimized in debug builds too: its scrypt (Scrypt.swift) unoptimized takes seconds a key, and the tests
            // derive hundreds of keys.
            swiftSettings: strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .target(name: "HaulCompression", dependencies: ["CZstd", "HaulFormat"], swiftSettings: strict),

        // Storage: the protocol, the in-memory store, and the filesystem store.
        .target(
            name: "HaulStorage",
            dependencies: ["HaulFormat", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(name: "HaulStorageFS", dependencies: ["HaulStorage", "HaulFormat", "CLinux"], swiftSettings: strict),
        // S3-compatible object storage (docs/s3.md): the only target that knows S3.
        .target(
            name: "HaulStorageS3",
            dependencies: [
                "HaulStorage", "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // Repository and engine.
        .target(
            name: "HaulRepository",
            dependencies: [
                "HaulFormat", "HaulChunker", "HaulCrypto", "HaulCompression", "HaulStorage",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "HaulEngine",
            dependencies: ["HaulRepository", "HaulFormat", "HaulStorage", "HaulStorageFS", "HaulChunker", "CLinux"],
            swiftSettings: strict
        ),

        // The service's metadata: records and the MetadataStore protocol (docs/service.md §2).
        .target(name: "HaulMetadata", dependencies: ["HaulFormat", "HaulProtocol"], swiftSettings: strict),
        // The two real metadata stores (docs/metadata.md); vendor types stay inside each.
        .target(
            name: "HaulMetadataSQLite",
            dependencies: ["HaulMetadata", "HaulFormat", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .target(
            name: "HaulMetadataPostgres",
            dependencies: [
                "HaulMetadata", "HaulFormat",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The API's value types, shared by the agent and the service (docs/service.md, docs/openapi.yaml).
        .target(name: "HaulProtocol", dependencies: ["HaulFormat"], swiftSettings: strict),

        // Identity: keys, certificate requests, the issuing CA, thumbprints and pins, signed assertions
        // (docs/identity.md). Knows nothing of repositories or HTTP.
        .target(
            name: "HaulIdentity",
            dependencies: [
                "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict
        ),
        // The agent side of the vault: the typed service client over HTTPS with pinned keys (NIO + NIOSSL, the pin
        // checked in the handshake's verification callback), and the VaultBlobStore.
        .target(
            name: "HaulClient",
            dependencies: [
                "HaulStorage", "HaulFormat", "HaulProtocol", "HaulIdentity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // Credential files, publish settings and the agent's state directory.
        .target(
            name: "HaulAgent", dependencies: ["HaulClient", "HaulProtocol", "HaulIdentity", "HaulFormat"],
            swiftSettings: strict
        ),

        // The service: Hummingbird routes, auth, the vault object API, metrics (docs/service.md).
        .target(
            name: "HaulService",
            dependencies: [
                "HaulProtocol", "HaulMetadata", "HaulIdentity", "HaulStorage", "HaulStorageFS", "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // Test support: conformance suites, fault-injecting stores, tree fixtures.
        .target(
            name: "HaulTesting",
            dependencies: ["HaulStorage", "HaulFormat", "CLinux", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "HaulMetadataTesting", dependencies: ["HaulMetadata", "HaulTesting", "HaulFormat"],
            swiftSettings: strict),

        // The thin executable.
        .executableTarget(
            name: "haul",
            dependencies: [
                "HaulEngine", "HaulRepository", "HaulStorage", "HaulStorageFS", "HaulFormat", "HaulCrypto", "CLinux",
                "HaulAgent", "HaulClient", "HaulProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // The service executable: argument parsing and wiring only.
        .executableTarget(
            name: "hauld",
            dependencies: [
                "HaulService", "HaulProtocol", "HaulMetadata", "HaulMetadataSQLite", "HaulMetadataPostgres",
                "HaulIdentity", "HaulStorageS3",
                "HaulFormat",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),

        // Benchmark: index memory per blob (bench/index-memory.md).
        .executableTarget(
            name: "haul-bench-index",
            dependencies: ["HaulRepository", "HaulStorageFS", "HaulFormat", "HaulCrypto"],
            swiftSettings: strict
        ),

        .testTarget(name: "HaulFormatTests", dependencies: ["HaulFormat"], swiftSettings: strict),
        .testTarget(
            name: "HaulChunkerTests",
            dependencies: ["HaulChunker", "HaulFormat"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulCryptoTests",
            // CryptoExtras: BoringSSL's scrypt, the reference Haul's own is tested against.
            dependencies: ["HaulCrypto", "HaulFormat", .product(name: "CryptoExtras", package: "swift-crypto")],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(name: "HaulCompressionTests", dependencies: ["HaulCompression"], swiftSettings: strict),
        .testTarget(
            name: "HaulStorageTests",
            dependencies: ["HaulStorage", "HaulStorageFS", "HaulTesting", "HaulFormat"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulStorageS3Tests",
            dependencies: [
                "HaulStorageS3", "HaulStorage", "HaulTesting", "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulRepositoryTests",
            dependencies: [
                "HaulRepository", "HaulStorage", "HaulTesting", "HaulFormat", "HaulCrypto", "HaulCompression",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulEngineTests",
            dependencies: [
                "HaulEngine", "HaulRepository", "HaulStorage", "HaulStorageFS", "HaulTesting", "HaulFormat",
                "HaulCrypto",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulServiceTests",
            dependencies: [
                "HaulService", "HaulProtocol", "HaulMetadata", "HaulMetadataSQLite", "HaulIdentity", "HaulStorage",
                "HaulStorageFS", "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "HaulProtocolTests", dependencies: ["HaulProtocol", "HaulFormat"], swiftSettings: strict),
        .testTarget(
            name: "HaulAgentTests", dependencies: ["HaulAgent", "HaulProtocol", "HaulIdentity", "HaulFormat"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulClientTests",
            dependencies: [
                "HaulClient", "HaulFormat", "HaulIdentity", "HaulProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulIdentityTests",
            dependencies: [
                "HaulIdentity", "HaulFormat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HaulMetadataTests",
            dependencies: [
                "HaulMetadata", "HaulMetadataSQLite", "HaulMetadataPostgres", "HaulMetadataTesting", "HaulFormat",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["HaulTesting", "HaulFormat", "HaulAgent", "HaulProtocol", "HaulStorage"],
            swiftSettings: strict
        ),
    ]
)
