import ArgumentParser
import Foundation

/// The operator CLI: write, check, apply, backtest and roll back policies.
///
/// Exit codes follow the usual split: 0 success, 1 an operational failure (an invalid policy, a
/// missing pool, an unreadable file), 2 a usage error, with a one-line hint.
@main
struct Flockctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flockctl",
        abstract: "Operate Flock, the autoscaler that clones warm VMs.",
        subcommands: [
            PolicyCommand.self, Simulate.self, LBCommand.self, VMCommand.self, Status.self, Events.self, Pause.self,
            Resume.self, Scale.self, BenchCommand.self, Demo.self,
        ]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            printError(failure.message)
            Foundation.exit(1)
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError("error: \(message(for: error))")
                printError("hint: run '\(commandPath()) --help' for usage")
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    /// The subcommand the user typed, e.g. `flockctl policy apply`, for the usage hint.
    private static func commandPath() -> String {
        var path = ["flockctl"]
        var commands = configuration.subcommands
        for word in CommandLine.arguments.dropFirst() {
            guard let next = commands.first(where: { $0._commandName == word }) else { break }
            path.append(word)
            commands = next.configuration.subcommands
        }
        return path.joined(separator: " ")
    }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// An operational failure: the message is printed as is and the exit code is 1.
struct CLIFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
