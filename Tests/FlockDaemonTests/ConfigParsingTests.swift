import FlockCore
import FlockDaemon
import FlockPolicy
import FlockStore
import FlockTestSupport
import FlockTesting
import Foundation
import Logging
import Testing

/// `flockd.yaml` parsing: the shipped example, defaults, and every kind of error located.
@Suite struct ConfigParsingTests {

    /// A valid config in a scratch directory, with `web.yaml` beside it; `edit` changes the text.
    func config(_ scratch: Scratch, edit: (String) -> String = { $0 }) throws -> String {
        try scratch.webPolicy()
        return try scratch.write(
            "flockd.yaml",
            edit(
                """
                store: { path: state/flock.db, sample_retention: 2h }
                listen: 127.0.0.1:9999
                log: { format: json, level: debug }
                balancers:
                  lb: { kind: haproxy, socket: /run/haproxy/admin.sock, timeout: 2s }
                hypervisors:
                  vm: { kind: memory, parent: web-parent }
                pools:
                  web:
                    policy: web.yaml
                    balancer: lb
                    hypervisor: vm
                    parent: web-parent

                """))
    }

    func load(_ path: String, environment: [String: String] = [:]) throws(DaemonError) -> DaemonConfig {
        try DaemonConfigParser.load(path: path, environment: environment, kinds: .test)
    }

    @Test func validConfigIsReadWithRelativePathsFromItsDirectory() throws {
        let scratch = try Scratch()
        let config = try load(try config(scratch))
        #expect(config.store.path == scratch.path("state/flock.db"))
        #expect(config.store.sampleRetention == .seconds(7200))
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 9999))
        #expect(config.log.format == .json)
        #expect(config.log.level == .debug)
        #expect(config.balancers["lb"]?.settings["socket"] == "/run/haproxy/admin.sock")
        #expect(config.balancers["lb"]?.settings["timeout"] == "2s")
        #expect(config.pools.first?.metrics.kind == "haproxy")
        #expect(config.hypervisors["vm"]?.settings["parent"] == "web-parent")
        #expect(config.pools.map(\.name) == ["web"])
        guard case .file(let document) = config.pools.first?.policy else {
            Issue.record("the web pool should use its file")
            return
        }
        #expect(document.file == scratch.path("web.yaml"))
        #expect(document.policy.balancer.backend == "app")
    }

    @Test func defaultsAreLoopbackTextInfoAndNoToken() throws {
        let scratch = try Scratch()
        try scratch.webPolicy()
        let path = try scratch.write(
            "flockd.yaml",
            """
            balancers: { lb: { kind: haproxy, socket: "127.0.0.1:9999" } }
            hypervisors: { vm: { kind: memory } }
            pools: { web: { policy: stored, balancer: lb, hypervisor: vm } }
            """)
        let config = try load(path, environment: ["FLOCK_DB": scratch.path("env.db")])
        #expect(config.listen == DaemonConfig.Defaults.listen)
        #expect(config.listen.isLoopback)
        #expect(config.log.format == .text)
        #expect(config.log.level == .info)
        #expect(config.apiToken == nil)
        #expect(config.store.path == scratch.path("env.db"))
        #expect(config.policyPollInterval == DaemonConfig.Defaults.policyPollInterval)
        #expect(config.store.sampleRetention == .seconds(86_400))
        #expect(
            config.store.historyRetention
                == HistoryRetention(decisions: .seconds(604_800), events: .seconds(604_800), journal: .seconds(604_800))
        )
        guard case .stored = config.pools.first?.policy else {
            Issue.record("policy: stored should be kept as stored")
            return
        }
    }

    @Test func shippedExampleIsValid() throws {
        // Deploy/flockd.yaml names kind: qemu, which only the flockd executable provides; here a
        // stand-in factory answers to it, and the check-config process test covers the real one.
        let qemu = StandInFactory(kind: "qemu", settingKeys: ["state_root", "boot_timeout"])
        let config = try DaemonConfigParser.load(
            path: Repo.path("Deploy/flockd.yaml"), environment: [:],
            kinds: DriverKinds(
                hypervisors: [qemu], balancers: DriverKinds.test.balancers, metrics: DriverKinds.test.metrics))
        #expect(config.listen.isLoopback)
        #expect(config.balancers["haproxy"]?.settings["socket"] == "/run/haproxy/admin.sock")
        #expect(config.pools.map(\.name) == ["web"])
    }

    @Test func historyRetentionIsReadFromTheStoreSection() throws {
        let scratch = try Scratch()
        let config = try load(
            try config(scratch) {
                $0.replacingOccurrences(
                    of: "sample_retention: 2h }",
                    with:
                        "sample_retention: 2h, decision_retention: 48h, event_retention: 1440m, journal_retention: 720h }"
                )
            })
        #expect(
            config.store.historyRetention
                == HistoryRetention(
                    decisions: .seconds(172_800), events: .seconds(86_400), journal: .seconds(2_592_000)))
    }

    @Test func badHistoryRetentionIsLocatedWithWhatToWrite() throws {
        let scratch = try Scratch()
        let path = try config(scratch) {
            $0.replacingOccurrences(
                of: "store: { path: state/flock.db, sample_retention: 2h }",
                with: """
                    store:
                      path: state/flock.db
                      decision_retention: 1h
                      event_retention: 7d
                      journal_retention: -1h
                      journal_retension: 1h
                    """)
        }
        let found = configErrors(path)
        #expect(
            found.map(\.description) == [
                "\(path):3:23: error: store.decision_retention must be at least 24h, the longest window or cooldown a "
                    + "policy may have; got 1h (hint: the default is 168h (7 days))",
                "\(path):4:20: error: store.event_retention must be a duration; got '7d' (hint: write a whole number "
                    + "and a unit: 500ms, 2s, 1m or 1h)",
                "\(path):5:22: error: store.journal_retention must be longer than zero; got '-1h'",
                "\(path):6:3: error: unknown key 'journal_retension' in store (hint: did you mean 'journal_retention'?)",
            ], "\(found)")
    }

    @Test func removedPoolsTakesReportOrReclaim() throws {
        let scratch = try Scratch()
        let reclaim = try config(scratch) { "removed_pools: reclaim\n" + $0 }
        #expect(try DaemonConfigParser.load(path: reclaim, environment: [:], kinds: .test).removedPools == .reclaim)
        let found = configErrors(try config(scratch) { "removed_pools: reclam\n" + $0 })
        #expect(
            found.map(\.description) == [
                "\(scratch.path("flockd.yaml")):1:16: error: config.removed_pools: unknown value 'reclam' "
                    + "(hint: did you mean 'reclaim'?)"
            ], "\(found)")
    }

    @Test func unknownKeyIsLocatedWithASuggestion() throws {
        let scratch = try Scratch()
        let found = configErrors(try config(scratch) { $0.replacingOccurrences(of: "listen:", with: "lisen:") })
        #expect(found.count == 1)
        #expect(found.first?.line == 2 && found.first?.column == 1)
        #expect(found.first?.message == "unknown key 'lisen' in config")
        #expect(found.first?.hint == "did you mean 'listen'?")
    }

    @Test func wrongTypeIsLocated() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "timeout: 2s", with: "timeout: [2]") })
        #expect(found.count == 1)
        #expect(found.first?.line == 5)
        #expect(found.first?.message.contains("balancers.lb.timeout must be a single value") == true)
    }

    @Test func unknownBalancerReferenceIsLocatedAtTheReference() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "balancer: lb", with: "balancer: lbb") })
        #expect(
            found.map(\.description) == [
                "\(scratch.path("flockd.yaml")):11:15: error: pools.web.balancer: no balancer named 'lbb' (hint: did you mean 'lb'?)"
            ])
    }

    @Test func unknownHypervisorKindIsLocatedAtTheKind() throws {
        let scratch = try Scratch()
        let found = configErrors(try config(scratch) { $0.replacingOccurrences(of: "kind: memory", with: "kind: xen") })
        #expect(found.count == 1)
        #expect(found.first?.line == 7 && found.first?.column == 15)
        #expect(found.first?.message == "hypervisors.vm.kind: unknown hypervisor kind 'xen'")
        #expect(found.first?.hint == "kinds this flockd knows: memory")
    }

    @Test func unknownBalancerKindIsLocated() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "kind: haproxy", with: "kind: nginx") })
        #expect(found.count == 1)
        #expect(found.first?.line == 5)
        #expect(found.first?.message == "balancers.lb.kind: unknown balancer kind 'nginx'")
        #expect(found.first?.hint == "kinds this flockd knows: haproxy")
    }

    @Test func factorySettingErrorsAreLocatedAtTheSetting() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "parent: web-parent }", with: "boot_delay: soon }") })
        #expect(found.count == 1)
        #expect(found.first?.line == 7)
        #expect(found.first?.message == "hypervisors.vm.boot_delay: must be a duration longer than zero; got 'soon'")
    }

    @Test func missingPolicyFileIsLocatedAtThePolicyValue() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "policy: web.yaml", with: "policy: api.yaml") })
        #expect(found.count == 1)
        #expect(found.first?.line == 10 && found.first?.column == 13)
        #expect(
            found.first?.message
                == "pools.web.policy: \(scratch.path("api.yaml")): cannot read the file: it does not exist")
    }

    @Test func invalidPolicyFileReportsThePolicysOwnLocatedErrors() throws {
        let scratch = try Scratch()
        let path = try config(scratch)
        try scratch.webPolicy { $0.replacingOccurrences(of: "max: 16", with: "max: 0") }
        let found = configErrors(path)
        #expect(found.contains { $0.file == path && $0.line == 10 && $0.message.contains("is not a valid policy") })
        #expect(
            found.contains {
                $0.file == scratch.path("web.yaml") && $0.message == "capacity.max must be at least 1; got 0"
            })
    }

    @Test func policyOfAnotherPoolAndParentMismatchAreLocated() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "parent: web-parent\n", with: "parent: other\n") })
        #expect(found.count == 1)
        #expect(found.first?.line == 13)
        #expect(found.first?.message.contains("pools.web.parent is 'other' but the policy") == true)

        let renamed = configErrors(try config(scratch) { $0.replacingOccurrences(of: "  web:\n", with: "  shop:\n") })
        #expect(renamed.contains { $0.line == 10 && $0.message.contains("is the policy of pool 'web'") })
    }

    @Test(arguments: ["localhost", "127.0.0.1:99999", "::1:9464", "127.0.0.1:http", ""])
    func badListenAddressIsLocated(_ listen: String) throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "listen: 127.0.0.1:9999", with: "listen: \"\(listen)\"") }
        )
        #expect(found.count == 1)
        #expect(found.first?.line == 2 && found.first?.column == 9)
        #expect(found.first?.message == "listen must be HOST:PORT; got '\(listen)'")
    }

    @Test func badSocketTokenAndYAMLSyntaxAreLocated() throws {
        let scratch = try Scratch()
        let socket = configErrors(
            try config(scratch) { $0.replacingOccurrences(of: "/run/haproxy/admin.sock", with: "nowhere") })
        #expect(socket.count == 1 && socket.first?.line == 5)
        #expect(socket.first?.message.hasPrefix("balancers.lb.socket:") == true)

        let token = configErrors(try config(scratch) { $0 + "api_token: short\n" })
        #expect(token.count == 1 && token.first?.line == 14)
        #expect(token.first?.message.contains("at least 16 characters") == true)

        let both = configErrors(try config(scratch) { $0 + "api_token: 0123456789abcdef0\napi_token_file: token\n" })
        #expect(both.first?.message == "give api_token or api_token_file, not both")

        let syntax = configErrors(
            try config(scratch) {
                $0.replacingOccurrences(of: "{ format: json, level: debug }", with: "{ format: json")
            })
        #expect(syntax.count == 1 && syntax.first?.message.hasPrefix("invalid YAML") == true)
        #expect(syntax.first?.line == 4)
    }

    @Test func everyErrorIsReportedInOneRun() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(scratch) {
                $0.replacingOccurrences(of: "listen: 127.0.0.1:9999", with: "listen: nope")
                    .replacingOccurrences(of: "level: debug", with: "level: loud")
                    .replacingOccurrences(of: "hypervisor: vm", with: "hypervisor: vn")
            })
        #expect(found.map(\.line) == [2, 3, 12])
    }

    @Test func apiTokenFileIsReadAndTrimmed() throws {
        let scratch = try Scratch()
        try scratch.write("token", "0123456789abcdef0123\n")
        let loaded = try load(try config(scratch) { $0 + "api_token_file: token\n" })
        #expect(loaded.apiToken == "0123456789abcdef0123")

        let missing = configErrors(try config(scratch) { $0 + "api_token_file: absent\n" })
        #expect(missing.first?.line == 14)
        #expect(missing.first?.message.contains("it does not exist") == true)
    }

    @Test func unreadableOrEmptyConfigIsAnError() throws {
        let scratch = try Scratch()
        #expect(configErrors(scratch.path("absent.yaml")).first?.message == "cannot read the file: it does not exist")
        #expect(configErrors(try scratch.write("empty.yaml", "")).first?.message == "the config file is empty")
    }
}

/// Accepts any settings for a kind, to parse configs written for the real executable.
struct StandInFactory: HypervisorFactory {
    let kind: String
    let settingKeys: [String]
    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] { [] }
    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Hypervisor {
        InMemoryHypervisor(parents: [:])
    }
}
