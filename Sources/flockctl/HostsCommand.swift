import ArgumentParser
import FlockCLI
import FlockCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `flockctl hosts`: each host the pools' placements name, as the running flockd sees it.
///
/// Unlike `flockctl status` it asks flockd's API (`/v1/hosts`), not the store: whether a host
/// answers, and what it holds, is known only to the daemon that holds the SSH sessions.
struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "Show each host: reachable, its VMs, free memory, the snapshots it holds and its last error.",
        discussion: "Reads GET /v1/hosts from flockd; no token is needed.")

    @Option(
        name: .long,
        help: ArgumentHelp("flockd's API (its 'listen' address in flockd.yaml).", valueName: "url"))
    var api = "http://127.0.0.1:9464"

    @Flag(help: "Print flockd's JSON ({\"hosts\": [...]}) instead of a table.") var json = false

    struct List: Decodable { var hosts: [HostStatus] }

    func run() async throws {
        let data = try await fetch()
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let list = try? decoder.decode(List.self, from: data) else {
            throw CLIFailure("error: \(api)/v1/hosts did not answer with a host list; is that flockd's API?")
        }
        if json {
            print(try jsonText(["hosts": list.hosts]))
            return
        }
        guard !list.hosts.isEmpty else {
            print("no hosts: no pool in this flockd has 'placement:' (see the README's Hosts section)")
            return
        }
        var rows = [["HOST", "STATE", "VMS", "MEM FREE", "CORES", "LOAD", "SNAPSHOTS", "POOLS", "LAST ANSWER"]]
        for host in list.hosts {
            rows.append([
                host.name, host.lost != nil ? "lost" : host.reachable ? "up" : "down", host.vms.map { "\($0)" } ?? "-",
                host.memAvailableBytes.map { "\($0 >> 20) MiB" } ?? "-", host.cores.map { "\($0)" } ?? "-",
                host.load.map { String(format: "%.2f", $0) } ?? "-",
                host.snapshots.isEmpty ? "-" : host.snapshots.joined(separator: ","), host.pools.joined(separator: ","),
                host.lastAnswer.map(clockTime) ?? "never",
            ])
        }
        print(table(rows), terminator: "")
        for host in list.hosts {
            if let lost = host.lost { print("\(host.name): \(lost.escapingControlCharacters)") }
            if let error = host.lastError { print("\(host.name): last error: \(error.escapingControlCharacters)") }
        }
    }

    private func fetch() async throws -> Data {
        guard let base = URL(string: api), base.scheme == "http" || base.scheme == "https", base.host != nil else {
            throw ValidationError("--api must be an http(s) URL such as http://127.0.0.1:9464; got '\(api)'")
        }
        var request = URLRequest(url: base.appendingPathComponent("v1/hosts"))
        request.timeoutInterval = 20  // each host is asked for at most a few seconds
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIFailure(
                "error: cannot reach flockd at \(api): \(error.localizedDescription); is it running, and is that its 'listen' address?"
            )
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
            let code = (response as? HTTPURLResponse)?.statusCode ?? 0
            throw CLIFailure(
                "error: \(api)/v1/hosts answered HTTP \(code): \(String(decoding: data.prefix(300), as: UTF8.self).escapingControlCharacters)"
            )
        }
        return data
    }
}
