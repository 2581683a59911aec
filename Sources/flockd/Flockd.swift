import ArgumentParser
import FlockCLI
import FlockDaemon
import Foundation
import Logging

/// The autoscaler daemon: reads `flockd.yaml`, then runs every pool's reconcile loop, the
/// policy watcher and the HTTP API until SIGTERM or SIGINT.
///
/// Exit codes match `flockctl`: 0 after a graceful shutdown (or a valid `--check-config`), 1 when
/// it cannot start (every config error printed as `file:line:column: error: …`), 2 for a usage
/// error with a one-line hint. No stack trace is ever the answer to a bad config.
@main
struct Flockd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flockd",
        abstract: "Flock's autoscaler daemon: clones warm VMs when a pool's policy asks for capacity.",
        discussion: """
            The config file comes from --config, else $FLOCKD_CONFIG. These variables override it: \
            FLOCKD_LISTEN (listen), FLOCKD_API_TOKEN (api_token), FLOCKD_LOG_LEVEL (log.level), \
            FLOCKD_LOG_FORMAT (log.format), FLOCK_DB (store.path).
            """
    )

    @Option(help: ArgumentHelp("The YAML config file (default: $FLOCKD_CONFIG).", valueName: "file"))
    var config: String?

    @Option(
        name: .customLong("check-config"),
        help: ArgumentHelp("Validate a config file (and the policies it names), then exit 0 or 1.", valueName: "file"))
    var checkConfig: String?

    /// The driver kinds this build of flockd can use; a new kind is one factory added here.
    static let kinds = DriverKinds(
        hypervisors: [QEMUHypervisorFactory(), XenHypervisorFactory()],
        balancers: [HAProxyBalancerFactory()],
        metrics: [HAProxyMetricsSourceFactory(), PrometheusMetricsSourceFactory()],
        placement: HostPlacementFactory())

    func validate() throws {
        if config != nil && checkConfig != nil {
            throw ValidationError("give either --config or --check-config, not both")
        }
    }

    func run() async throws {
        do {
            try await serve()
        } catch let error as DaemonError {
            // Every config error is already located in the description; the last line says why
            // nothing started, so that a service manager's log ends with the reason.
            throw CLIFailure(
                error.description + (error.isConfigError ? "\nflockd: not starting: fix the config above" : ""))
        }
    }

    private func serve() async throws {
        let environment = ProcessInfo.processInfo.environment
        if let checkConfig {
            let loaded = try DaemonConfigParser.load(
                path: checkConfig, environment: environment, kinds: Self.kinds)
            print(
                "\(checkConfig): valid; \(loaded.pools.count) pool(s): \(loaded.pools.map(\.name).joined(separator: ", "))"
            )
            return
        }
        guard let path = config ?? environment["FLOCKD_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw ValidationError("no config file: give --config FILE or set FLOCKD_CONFIG")
        }
        let loaded = try DaemonConfigParser.load(path: path, environment: environment, kinds: Self.kinds)
        let log = loaded.log
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, format: log.format, level: log.level) }
        _ = DaemonMetrics.registry
        let logger = Logger(label: "flockd")
        let daemon = try await Daemon.prepare(config: loaded, kinds: Self.kinds, logger: logger)
        try await daemon.run()
    }

    static func main() async { await runCommandLine() }
}
