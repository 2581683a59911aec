// swift-tools-version:6.2
import PackageDescription

/// Targets are listed in the order data flows: the core and the system layer below everything,
/// then metrics sources → engine and policy → store → controller → hypervisors and balancers →
/// the daemon, then the CLIs, the demo and the benches, the guest programs, and the tests.
/// Drivers depend on `FlockCore`, never the reverse; host system calls (sockets, child processes)
/// live in `FlockSystem`, below the drivers and never below `FlockCore`.
let package = Package(
    name: "Flock",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FlockCore", targets: ["FlockCore"]),
        .library(name: "FlockSystem", targets: ["FlockSystem"]),
        .library(name: "FlockHAProxy", targets: ["FlockHAProxy"]),
        .library(name: "FlockPrometheus", targets: ["FlockPrometheus"]),
        .library(name: "FlockQEMU", targets: ["FlockQEMU"]),
        .library(name: "FlockXen", targets: ["FlockXen"]),
        .library(name: "FlockHosts", targets: ["FlockHosts"]),
        .executable(name: "flockd", targets: ["flockd"]),
        .executable(name: "flockctl", targets: ["flockctl"]),
        .executable(name: "flock-bench", targets: ["flock-bench"]),
        .executable(name: "flock-agent", targets: ["flock-agent"]),
        .executable(name: "flock-demo-app", targets: ["flock-demo-app"]),
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
        // The domain, the driver protocols and the pure engine: no I/O.
        .target(name: "FlockCore"),
        // Host system calls: sockets bounded by deadlines, the HTTP GET, child processes, free
        // ports, executable lookup, and one bounded pool for blocking calls.
        .target(
            name: "FlockSystem",
            dependencies: [
                "FlockCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        // Metrics sources (and HAProxy's balancer driver, on the same runtime API).
        .target(name: "FlockHAProxy", dependencies: ["FlockCore", "FlockSystem"]),
        // Any Prometheus text endpoint; its URLSession is FoundationNetworking (libcurl).
        .target(name: "FlockPrometheus", dependencies: ["FlockCore"]),

        // Policies, state, and the per-pool loop that drives the engine.
        .target(
            name: "FlockPolicy",
            dependencies: [
                "FlockCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "FlockStore", dependencies: ["FlockCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(
            name: "FlockController",
            dependencies: [
                "FlockCore", "FlockStore", "FlockSystem", .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // Hypervisors.
        .target(
            name: "FlockQEMU",
            dependencies: ["FlockCore", "FlockSystem", .product(name: "Logging", package: "swift-log")]
        ),
        // Other hypervisor hosts over SSH: `flockctl host serve` (the host's side, its own QEMU
        // driver) and the client (one persistent ssh session per host, snapshots shipped once).
        .target(
            name: "FlockHosts",
            dependencies: [
                "FlockCore", "FlockSystem", "FlockQEMU",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Namespace "hosts" on one machine (network namespaces, each with sshd and a VM bridge), for
        // the hosts bench, demos and FlockHostsTests; needs root.
        .target(name: "FlockHostRig", dependencies: ["FlockCore", "FlockSystem", "FlockHosts", "FlockQEMU"]),
        // libxl and libxenstore from libxen-dev (Xen 4.17), for the Xen driver.
        .systemLibrary(name: "CXenLight", pkgConfig: "xenlight", providers: [.apt(["libxen-dev"])]),
        .target(
            name: "FlockXen",
            dependencies: ["CXenLight", "FlockCore", "FlockSystem", .product(name: "Logging", package: "swift-log")]
        ),

        // The daemon: FlockDaemon knows no driver, only the factory protocols; flockd registers
        // the driver kinds it links.
        .target(
            name: "FlockDaemon",
            dependencies: [
                "FlockCore", "FlockPolicy", "FlockStore", "FlockController", "FlockSystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
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
                "FlockDaemon", "FlockCLI", "FlockPolicy", "FlockHAProxy", "FlockHosts", "FlockPrometheus", "FlockQEMU",
                "FlockXen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The CLIs, the demo and the benches.
        // What flockctl, flock-bench and flockd share: the exit codes and usage hint, argument types
        // (durations, clone modes), failures, tables and the VM spec file.
        .target(
            name: "FlockCLI",
            dependencies: [
                "FlockCore", "FlockQEMU",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The demo's reusable parts (haproxy with a generated config, flockd as a child process,
        // the wrk load step, sampling, summary and SVG chart, the run's set-up, live view and
        // Ctrl-C handling), shared by `flockctl demo`, `flock-bench` and the end-to-end tests.
        .target(
            name: "FlockDemo",
            dependencies: [
                "FlockCore", "FlockSystem", "FlockStore", "FlockHAProxy", "FlockQEMU", "FlockHostRig",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "flockctl",
            dependencies: [
                "FlockCLI", "FlockCore", "FlockSystem", "FlockPolicy", "FlockStore", "FlockHAProxy", "FlockQEMU",
                "FlockXen", "FlockDemo", "FlockHosts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // In-memory drivers, for unit tests of the core logic and the controller bench.
        .target(name: "FlockTesting", dependencies: ["FlockCore"]),
        // The benches' runners and reports; the controller bench runs the real loop on
        // FlockTesting's in-memory drivers, which is why the benches are not in flockctl.
        .target(
            name: "FlockBench",
            dependencies: [
                "FlockCLI", "FlockCore", "FlockController", "FlockDemo", "FlockHostRig", "FlockHosts", "FlockQEMU",
                "FlockStore", "FlockSystem", "FlockTesting", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "flock-bench",
            dependencies: [
                "FlockBench", "FlockCLI", "FlockCore", "FlockDemo", "FlockHostRig", "FlockQEMU", "FlockSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // In-guest executables: Glibc only, built static for the guest image by
        // Deploy/guest/build.sh. FlockGuestKit is what both share (JSON, files, the identity file).
        .target(name: "FlockGuestKit"),
        .executableTarget(name: "flock-agent", dependencies: ["FlockGuestKit"]),
        .executableTarget(name: "flock-demo-app", dependencies: ["FlockGuestKit"]),

        // The helpers every process-, file- and port-using suite shares (repo root, built binaries,
        // scratch directories, eventually, the child runner over FlockSystem's ChildProcess); free
        // ports come from FlockSystem.
        .target(name: "FlockTestSupport", dependencies: ["FlockSystem"], path: "Tests/FlockTestSupport"),
        .testTarget(
            name: "FlockCoreTests",
            dependencies: [
                "FlockCore", "FlockTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "FlockSystemTests", dependencies: ["FlockSystem", "FlockCore", "FlockTestSupport"]),
        .testTarget(name: "FlockPolicyTests", dependencies: ["FlockPolicy", "FlockTestSupport"]),
        .testTarget(name: "FlockStoreTests", dependencies: ["FlockStore", "FlockTestSupport"]),
        .testTarget(
            name: "FlockControllerTests", dependencies: ["FlockController", "FlockTesting", "FlockTestSupport"]),
        .testTarget(name: "FlockctlTests", dependencies: ["flockctl", "FlockStore", "FlockTestSupport"]),
        .testTarget(
            name: "FlockHAProxyTests",
            dependencies: [
                "FlockHAProxy", "FlockPrometheus", "FlockCore", "FlockSystem", "FlockTestSupport", "flockctl",
            ]
        ),
        .testTarget(
            name: "FlockDaemonTests",
            dependencies: [
                "FlockDaemon", "FlockTesting", "FlockStore", "FlockPolicy", "FlockSystem", "FlockTestSupport", "flockd",
                "flockctl",
                // Serve a Prometheus page.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "FlockQEMUTests",
            dependencies: ["FlockQEMU", "FlockCore", "FlockSystem", "FlockTestSupport", "flockctl"]
        ),
        // Runs without Xen: translation to libxl's structs, identity keys, config and errors.
        .testTarget(
            name: "FlockXenTests",
            dependencies: [
                "FlockXen", "CXenLight", "FlockCore", "FlockDaemon", "FlockTestSupport", "flockd", "flockctl",
            ]
        ),
        // Hosts over real sshd in network namespaces (private /run and /dev/shm each), the built
        // flockctl as the remote command and real QEMU on both sides; boots VMs, so run alone.
        .testTarget(
            name: "FlockHostsTests",
            dependencies: [
                "FlockHosts", "FlockHostRig", "FlockQEMU", "FlockCore", "FlockController", "FlockDaemon", "FlockStore",
                "FlockSystem",
                "FlockTestSupport", "FlockTesting", "flockctl", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "GuestImageTests", dependencies: ["FlockSystem"]),
        // The guest kit on the host: clone hooks run as real processes, ARP frames, address parsing.
        .testTarget(name: "FlockGuestKitTests", dependencies: ["FlockGuestKit", "FlockCore", "FlockTestSupport"]),
        // The Debian guest (Deploy/guest/build-debian.sh) cloned in every mode under TCG; boots
        // VMs, so Deploy/test.sh runs it alone.
        .testTarget(
            name: "DebianGuestTests", dependencies: ["FlockQEMU", "FlockCore", "FlockSystem", "FlockTestSupport"]),
        // Runs the built flock-bench (the clone and peak smokes boot VMs, so Deploy/test.sh runs it
        // alone), and checks the peak bench's definition of "at peak".
        .testTarget(name: "FlockBenchTests", dependencies: ["flock-bench", "FlockBench", "FlockTestSupport"]),
        // The demo's pure parts (wrk's summary, the load script, the summary maths, the chart) and
        // its generated configs, checked by haproxy and the built flockd; no VM.
        .testTarget(
            name: "FlockDemoTests",
            dependencies: ["FlockDemo", "FlockCore", "FlockSystem", "FlockTestSupport", "flockd", "flock-demo-app"]
        ),
        // Xen 4.17 + a Debian dom0 under QEMU TCG, proving warm clones with xl save/restore and
        // with FlockXen through the built flockctl (Deploy/xen). Slow; run alone:
        // swift test --filter FlockXenHarnessTests.
        .testTarget(name: "FlockXenHarnessTests", dependencies: ["flockctl"]),
        // Real haproxy, real QEMU (TCG), the built flockd as a process and wrk load; run alone,
        // after the other VM suites (Deploy/test.sh).
        .testTarget(
            name: "FlockEndToEndTests",
            dependencies: [
                "FlockDemo", "FlockCore", "FlockSystem", "FlockStore", "FlockHAProxy", "FlockQEMU", "FlockHostRig",
                "FlockTestSupport", "flockd",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
