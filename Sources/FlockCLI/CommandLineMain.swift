import ArgumentParser
import Foundation

/// The exit codes and messages `flockctl`, `flock-bench` and `flockd` share: 0 success, 1 an operational
/// failure (`CLIFailure`, printed as is), 2 a usage error with a one-line hint naming the
/// subcommand's help.
extension AsyncParsableCommand {
    public static func runCommandLine() async {
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
                printError("error: \(ArgumentForm.explained(message(for: error)))")
                printError("hint: run '\(commandPath()) --help' for usage")
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    /// The subcommand the user typed, e.g. `flockctl policy apply`, for the usage hint. Every
    /// command names itself in its configuration, so the words can be matched without
    /// ArgumentParser's internals.
    private static func commandPath() -> String {
        var path = [configuration.commandName ?? "\(self)"]
        var commands = configuration.subcommands
        for word in CommandLine.arguments.dropFirst() {
            guard let next = commands.first(where: { $0.configuration.commandName == word }) else { break }
            path.append(word)
            commands = next.configuration.subcommands
        }
        return path.joined(separator: " ")
    }
}
