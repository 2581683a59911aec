import ArgumentParser
import FlockCLI

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
            Resume.self, Scale.self, Demo.self, HostCommand.self, Hosts.self,
        ]
    )

    static func main() async { await runCommandLine() }
}
