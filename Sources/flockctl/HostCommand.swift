import ArgumentParser
import FlockCLI
import FlockHosts
import Foundation

/// `flockctl host …`: this machine's side of Flock's hosts, run by sshd for a remote flockd.
struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Serve this machine as a Flock host (run by sshd for a remote flockd).",
        subcommands: [HostServe.self]
    )
}

/// `flockctl host serve --state DIR`: the fixed remote command of a host's SSH sessions.
struct HostServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer one JSON request a line on stdin with one JSON line on stdout; logs go to stderr.",
        discussion: """
            Runs this host's QEMU driver on DIR (put it on tmpfs: snapshots and guest RAM live there). \
            flockd starts it over SSH; pin it in authorized_keys, e.g. \
            restrict,command="flockctl host serve --state /run/flock/host" ssh-ed25519 AAAA… flockd. \
            The session ends at end of input.
            """
    )

    @Option(name: .long, help: ArgumentHelp("This host's state root (absolute, no symbolic links).", valueName: "dir"))
    var state: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "QEMU's -cpu for this host's VMs (default: host under KVM, max under TCG).", valueName: "model"))
    var cpu: String?

    @Option(name: .long, help: ArgumentHelp("The QEMU binary.", valueName: "path"))
    var qemu = "qemu-system-x86_64"

    func run() async throws {
        let status = await HostServer.serve(
            HostServer.Options(stateRoot: state, qemu: qemu, cpuModel: cpu)
        ) { line in
            FileHandle.standardError.write(Data("flockctl host: \(line)\n".utf8))
        }
        if status != 0 { throw ExitCode(status) }
    }
}
