import ArgumentParser
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
    var address: String

    @Option(help: ArgumentHelp("How long the health check may take to pass, e.g. 30s.", valueName: "duration"))
    var healthTimeout = "30s"

    @Option(help: ArgumentHelp("Time between health checks (HAProxy 'inter'), e.g. 1s.", valueName: "duration"))
    var checkInterval: String?

    func validate() throws {
        if HostPort.split(address) == nil {
            throw ValidationError("--address '\(address)' is not HOST:PORT (e.g. 10.0.0.7:8080; IPv6 as [::1]:8080).")
        }
        for (flag, value) in [("--health-timeout", healthTimeout), ("--check-interval", checkInterval)] {
            if let value, Duration(flockText: value) == nil {
                throw ValidationError("\(flag) '\(value)' is not a duration; write e.g. 500ms or 2s.")
            }
        }
    }

    func run() async throws {
        let (host, port) = HostPort.split(address)!
        let options = ServerOptions(interval: checkInterval.flatMap { Duration(flockText: $0) })
        let balancer = try lb.balancer(options: options, healthTimeout: Duration(flockText: healthTimeout)!)
        try await lbFailure {
            _ = try await balancer.check(backend: lb.backend)
            try await balancer.register(
                ServerRegistration(backend: lb.backend, name: server.name, address: host, port: port))
        }
        print("registered \(lb.backend)/\(server.name) at \(address); it passed its health check and takes traffic")
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
    var timeout = "30s"

    func validate() throws {
        if Duration(flockText: timeout) == nil {
            throw ValidationError("--timeout '\(timeout)' is not a duration; write e.g. 500ms or 30s.")
        }
    }

    func run() async throws {
        let outcome = try await lbFailure {
            try await lb.balancer().drain(
                backend: lb.backend, server: server.name, timeout: Duration(flockText: timeout)!)
        }
        switch outcome {
        case .drained:
            print("drained \(lb.backend)/\(server.name): no sessions left; remove it with 'flockctl lb remove'")
        case .timedOut(let sessions):
            throw CLIFailure(
                "error: \(lb.backend)/\(server.name) still has \(sessions) session(s) after \(timeout); "
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
