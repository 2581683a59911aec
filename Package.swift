// swift-tools-version:6.2
import PackageDescription

/// Targets follow the data flow: drivers and tools depend on `FlockCore`, never the reverse; host
/// system calls (sockets, child processes) live in `FlockSystem`, below the drivers.
let package = Package(
    name: "Flock",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flockctl", targets: ["flockctl"]),
        .library(name: "FlockCore", targets: ["FlockCore"]),
        .executable(name: "flock-agent", targets: ["flock-agent"]),
        .executable(name: "flock-demo-app", targets: ["flock-demo-app"]),
        .library(name: "FlockHAProxy", targets: ["FlockHAProxy"]),
        .executable(name: "flockd", targets: ["flockd"]),
        .library(name: "FlockQEMU", targets: ["FlockQEMU"]),
        .library(name: "FlockXen", targets: ["FlockXen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // flockd: HTTP API, service lifecycle, logging and Prometheus /metrics. Hummingbird's
        // swift-configuration trait is left off: flockd reads its own YAML config.
        .package(
            url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // FlockSystem: child processes, the shared pool for blocking calls.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(name: "FlockCore"),
        // Host system calls: sockets bounded by deadlines, the HTTP GET, child processes, free
        // ports, executable lookup, and one bounded pool for blocking calls. Below the drivers;
        // FlockCore never depends on it.
        .target(
            name: "FlockSystem",
            dependencies: [
                "FlockCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "FlockPolicy",
            dependencies: [
                "FlockCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "FlockStore", dependencies: ["FlockCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "FlockTesting", dependencies: ["FlockCore"]),
        .target(
            name: "FlockController",
            dependencies: ["FlockCore", "FlockStore", .product(name: "Metrics", package: "swift-metrics")]
        ),
        // In-guest executables: Glibc only, built static for the guest image by Deploy/guest/build.sh.
        .executableTarget(name: "flock-agent"),
        .executableTarget(name: "flock-demo-app"),
        .target(name: "FlockHAProxy", dependencies: ["FlockCore", "FlockSystem"]),
        .target(
            name: "FlockDaemon",
            dependencies: [
                "FlockCore", "FlockPolicy", "FlockStore", "FlockController", "FlockHAProxy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "flockd",
            dependencies: [
                "FlockDaemon", "FlockQEMU", "FlockXen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "FlockQEMU", dependencies: ["FlockCore", "FlockSystem"]),
        // libxl and libxenstore from libxen-dev (Xen 4.17), for the Xen driver.
        .systemLibrary(name: "CXenLight", pkgConfig: "xenlight", providers: [.apt(["libxen-dev"])]),
        .target(
            name: "FlockXen",
            dependencies: ["CXenLight", "FlockCore", "FlockSystem", .product(name: "Logging", package: "swift-log")]
        ),
        // The demo's reusable parts (haproxy with a generated config, flockd as a child process,
        // the wrk load step, sampling, summary and SVG chart), shared by `flockctl demo` and the
        // end-to-end tests.
        .target(
            name: "FlockDemo", dependencies: ["FlockCore", "FlockSystem", "FlockStore", "FlockHAProxy", "FlockQEMU"]),
        .executableTarget(
            name: "flockctl",
            dependencies: [
                "FlockCore", "FlockSystem", "FlockPolicy", "FlockStore", "FlockHAProxy", "FlockQEMU", "FlockXen",
                "FlockDemo",
                "FlockController", "FlockTesting",  // bench controller: the real loop on in-memory drivers
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "FlockCoreTests",
            dependencies: [
                "FlockCore", "FlockTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "FlockSystemTests", dependencies: ["FlockSystem", "FlockCore"]),
        .testTarget(name: "FlockPolicyTests", dependencies: ["FlockPolicy"]),
        .testTarget(name: "FlockStoreTests", dependencies: ["FlockStore"]),
        .testTarget(name: "FlockControllerTests", dependencies: ["FlockController", "FlockTesting"]),
        .testTarget(name: "FlockctlTests", dependencies: ["flockctl"]),
        .testTarget(name: "FlockHAProxyTests", dependencies: ["FlockHAProxy", "FlockCore", "flockctl"]),
        .testTarget(
            name: "FlockDaemonTests",
            dependencies: ["FlockDaemon", "FlockTesting", "FlockStore", "FlockPolicy", "flockd", "flockctl"]
        ),
        .testTarget(name: "FlockQEMUTests", dependencies: ["FlockQEMU", "FlockCore", "FlockSystem", "flockctl"]),
        // Runs without Xen: translation to libxl's structs, identity keys, config and errors.
        .testTarget(
            name: "FlockXenTests",
            dependencies: ["FlockXen", "CXenLight", "FlockCore", "FlockDaemon", "flockd", "flockctl"]
        ),
        .testTarget(name: "GuestImageTests"),
        // Runs the built flockctl's benches; the clone smoke boots VMs, so Deploy/test.sh runs it alone.
        .testTarget(name: "FlockBenchTests", dependencies: ["flockctl"]),
        // Real haproxy, real QEMU (TCG), the built flockd as a process and wrk load; run alone,
        // after the other VM suites (Deploy/test.sh).
        .testTarget(name: "FlockDemoTests", dependencies: ["FlockDemo", "FlockCore", "FlockSystem", "flockd"]),
        // Xen 4.17 + a Debian dom0 under QEMU TCG, proving warm clones with xl save/restore and
        // with FlockXen through the built flockctl (Deploy/xen). Slow; run alone:
        // swift test --filter FlockXenHarnessTests.
        .testTarget(name: "FlockXenHarnessTests", dependencies: ["flockctl"]),
        .testTarget(
            name: "FlockEndToEndTests",
            dependencies: [
                "FlockDemo", "FlockCore", "FlockSystem", "FlockStore", "FlockHAProxy", "FlockQEMU", "flockd",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
