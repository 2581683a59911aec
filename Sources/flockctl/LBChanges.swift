import ArgumentParser
import FlockCLI
import FlockCore
import FlockHAProxy
import Foundation

/// `flockctl lb register`: add a server, gate it on its health check, then enable it.
struct LBRegister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Add a Flock server to a backend; it takes traffic only after its health check passes."
    )

    @OptionGroup var lb: LBOptions
    @OptionGroup var server: LBServerName

    @Option(help: ArgumentHelp("Where HAProxy reaches the server: an IP address and port.", valueName: "host:port"))
    var address: ServerAddress

    @Option(help: ArgumentHelp("How long the health check may take to pass, e.g. 30s.", valueName: "duration"))
    var healthTimeout = DurationArgument(.seconds(30))

    @Option(help: ArgumentHelp("Time between health checks (HAProxy 'inter'), e.g. 1s.", valueName: "duration"))
    var checkInterval: DurationArgument?

    func run() async throws {
        let options = ServerOptions(interval: checkInterval?.duration)
        let balancer = try lb.balancer(options: options, healthTimeout: healthTimeout.duration)
        try await lbFailure {
            _ = try await balancer.check(backend: lb.backend)
            try await balancer.register(
                ServerRegistration(backend: lb.backend, name: server.name, address: address.host, port: address.port))
        }
        print(
            "registered \(lb.backend)/\(server.name) at \(address.text); it passed its health check and takes traffic")
    }
}

/// `--address HOST:PORT` (IPv6 as `[::1]:8080`), split once, when the command line is parsed.
struct ServerAddress: ExpressibleByArgument {
    let host: String
    let port: Int
    let text: String

    init?(argument: String) {
        guard let (host, port) = HostPort.split(argument) else { return nil }
        self.host = host
        self.port = port
        text = argument
    }
}

/// `flockctl lb drain`: stop new traffic and wait for open sessions to finish.
struct LBDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Stop new traffic to a Flock server and wait until its sessions and queue are empty."
    )

    @OptionGroup var lb: LBOptions
    @OptionGroup var server: LBServerName

    @Option(help: ArgumentHelp("How long to wait for sessions to end, e.g. 30s.", valueName: "duration"))
    var timeout = DurationArgument(.seconds(30))

    func run() async throws {
        let outcome = try await lbFailure {
            try await lb.balancer().drain(
                backend: lb.backend, server: server.name, timeout: timeout.duration)
        }
        switch outcome {
        case .drained:
            print("drained \(lb.backend)/\(server.name): no sessions left; remove it with 'flockctl lb remove'")
        case .timedOut(let sessions):
            throw CLIFailure(
                "error: \(lb.backend)/\(server.name) still has \(sessions) session(s) after \(timeout.text); "
                    + "it stays draining (no new traffic). Wait and drain again, or remove it anyway."
            )
        }
    }
}

/// `flockctl lb remove`: maintenance, then delete.
struct LBRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a Flock server from a backend (drain it first; HAProxy refuses while connections remain)."
    )

    @OptionGroup var lb: LBOptions
    @OptionGroup var server: LBServerName

    func run() async throws {
        try await lbFailure { try await lb.balancer().remove(backend: lb.backend, server: server.name) }
        print("removed \(lb.backend)/\(server.name)")
    }
}
