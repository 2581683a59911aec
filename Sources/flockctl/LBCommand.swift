import ArgumentParser
import FlockCLI
import FlockCore
import FlockHAProxy
import Foundation

/// `flockctl lb …`: look at and, by hand, change Flock's servers in an HAProxy backend.
///
/// Every subcommand goes through `HAProxyBalancer`, the driver the daemon uses, so a manual
/// registration is gated on its health check and a manual removal refuses servers Flock does not
/// own, exactly as the daemon would.
struct LBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lb",
        abstract: "Show, register, drain and remove servers in an HAProxy backend.",
        subcommands: [LBShow.self, LBCheck.self, LBRegister.self, LBDrain.self, LBRemove.self]
    )
}

/// Where HAProxy's runtime API is and which backend to act on.
struct LBOptions: ParsableArguments {
    @Option(
        name: .customLong("haproxy"),
        help: ArgumentHelp(
            "HAProxy's admin stats socket: a unix socket path, or HOST:PORT for a TCP one.", valueName: "socket")
    )
    var socket: String

    @Option(help: ArgumentHelp("The HAProxy backend.", valueName: "name"))
    var backend: String

    @Option(help: ArgumentHelp("Timeout of each runtime API command, e.g. 5s.", valueName: "duration"))
    var commandTimeout = DurationArgument(.seconds(5))

    func validate() throws {
        do {
            _ = try RuntimeEndpoint(parsing: socket)
        } catch {
            throw ValidationError("--haproxy: \(error)")
        }
    }

    func client() throws -> RuntimeClient {
        RuntimeClient(endpoint: try RuntimeEndpoint(parsing: socket), timeout: commandTimeout.duration)
    }

    func balancer(
        options: ServerOptions = ServerOptions(), healthTimeout: Duration = .seconds(30)
    ) throws -> HAProxyBalancer {
        HAProxyBalancer(client: try client(), options: options, healthTimeout: healthTimeout)
    }
}

/// Runs a driver call and turns any error into exit 1 with its message.
func lbFailure<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let failure as CLIFailure {
        throw failure
    } catch {
        throw CLIFailure("error: \(error)")
    }
}

/// A `--name` option shared by the commands that change one server.
struct LBServerName: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The server, e.g. flock-web-3. Only names starting with 'flock-' are Flock's.", valueName: "name"))
    var name: String
}
