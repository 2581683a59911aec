import ArgumentParser
import FlockCLI
import FlockCore
import FlockHAProxy
import Foundation

/// `flockctl lb show`: every server in the backend, Flock's and others', with its load.
struct LBShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List a backend's servers with state, sessions, queue, response time and owner."
    )

    @OptionGroup var lb: LBOptions

    func run() async throws {
        let details = try await lbFailure { try await lb.balancer().serverDetails(backend: lb.backend) }
        var rows = [["NAME", "STATE", "ADDRESS", "SESSIONS", "QUEUE", "RTIME_MS", "OWNER"]]
        for detail in details {
            let server = detail.server
            rows.append([
                server.name, detail.statusText, "\(server.address):\(server.port)", String(server.sessions),
                detail.queue.map(String.init) ?? "-", detail.responseTimeMs.map(String.init) ?? "-",
                detail.ownedByFlock ? "flock" : "other",
            ])
        }
        print(table(rows), terminator: "")
        if details.isEmpty { print("(backend \(lb.backend) has no servers)") }
    }
}

/// `flockctl lb check`: the daemon's start-up check of a backend.
struct LBCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that a backend exists and can take servers at run time (a dynamic balance algorithm)."
    )

    @OptionGroup var lb: LBOptions

    func run() async throws {
        let report = try await lbFailure { try await lb.balancer().check(backend: lb.backend) }
        print(
            "backend \(report.backend): balance \(report.details["algorithm"] ?? "?"), \(report.servers) server(s); "
                + "servers can be added at run time"
        )
    }
}
