import ArgumentParser
import FlockBench
import FlockCLI
import FlockCore
import FlockHostRig
import FlockQEMU
import FlockSystem
import Foundation

/// `flock-bench hosts`: lazy clones on other hosts against lazy clones on the parent's own, in
/// one run on one machine, with two namespace hosts standing in for other machines (`HostRig`).
struct BenchHosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "Time lazy clones on other hosts against same-host lazy clones, and the snapshot's transfers.",
        discussion: """
            Makes 2 namespace hosts on this machine (network namespaces 10.231.71-72.0/24, each with its \
            own sshd, VM bridge 10.232.71-72.0/24 and private /run and /dev/shm) and the parent's network \
            (10.232.9.0/24), boots a warm parent on a bridge, pins one lazy snapshot of it, then measures \
            with bridge networking: the first clone on each host (the snapshot's transfer, then the \
            restore), --rounds rounds of one same-host lazy clone and one clone on each host that holds \
            the snapshot, the bytes on the host's veth for such a clone, 8 clones over both hosts, and \
            the first warmed request on a remote clone against the parent. The hosts share this \
            machine's cores: a rig for measuring placement over SSH, not a cluster.

            Needs root, OpenSSH (/usr/sbin/sshd, ssh, ssh-keygen), iproute2, nftables, QEMU, the guest image \
            (bash Deploy/guest/build.sh) and the built flockctl (the hosts run `flockctl host serve`). \
            Every namespace, VM, sshd and file it makes is removed at the end, on error and on Ctrl-C.
            """)

    @Option(name: .long, help: "Rounds; each runs one same-host clone and one on each host, in a rotating order.")
    var rounds = 3

    @Option(name: .long, help: "Keys the parent warms before its snapshot.")
    var keys = 3

    @Option(name: .long, help: ArgumentHelp("The parent's VM spec.", valueName: "spec"))
    var spec = "Deploy/guest/parent.yaml"

    @Option(
        help: ArgumentHelp(
            "The flockctl the hosts run (default: next to this flock-bench, else in PATH).", valueName: "path"))
    var flockctl: String?

    @OptionGroup var vm: BenchVMOptions

    func validate() throws {
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be 1...20") }
        guard (1...50).contains(keys) else { throw ValidationError("--keys must be 1...50") }
    }

    func run() async throws {
        if let missing = HostRig.missingPrerequisite() { throw CLIFailure("error: bench hosts: \(missing)") }
        let flockctl = try flockctlBinary()
        let parentSpec = try vm.parentSpec(spec)
        for file in [parentSpec.kernel, parentSpec.initrd].compactMap({ $0 })
        where !FileManager.default.fileExists(atPath: file) {
            throw CLIFailure("error: bench hosts: \(file) is missing (hint: bash Deploy/guest/build.sh)")
        }
        let (root, ownRoot) = try BenchVMRun.stateRoot(vm.state)
        let verbose = vm.verbose
        let runner = BenchHostsRunner(
            spec: parentSpec, rounds: rounds, keys: keys, flockctl: flockctl, root: root,
            makeDriver: { namespace in
                // Clones reuse the run's one snapshot: an hour is longer than any run.
                BenchVMRun.driver(
                    root: root, label: "flock-bench.hosts", verbose: verbose, networkNamespace: namespace,
                    snapshotMaxAge: .seconds(3600))
            },
            progress: { if isatty(2) == 1 { printError("… \($0)") } })
        let report = try await BenchVMRun.run("hosts", root: root, ownRoot: ownRoot) {
            try await runner.run()
        } cleanUp: {
            await runner.cleanUp()
        }

        print(report.table(), terminator: "")
        if let json = vm.json {
            var object = report.json()
            object["miss_cost_ms"] = vm.missCostMs
            object["command"] = BenchJSON.commandLine
            try BenchJSON.write(object, to: json)
        }
    }

    /// An absolute path: the hosts' sshd runs it as the remote command.
    private func flockctlBinary() throws -> String {
        if let flockctl {
            guard let found = findExecutable(flockctl) else {
                throw CLIFailure("error: bench hosts: flockctl binary '\(flockctl)' not found")
            }
            return URL(fileURLWithPath: found).standardizedFileURL.path
        }
        guard let found = findSiblingExecutable("flockctl") else {
            throw CLIFailure("error: bench hosts: flockctl is not built (hint: swift build --product flockctl)")
        }
        return found
    }
}
