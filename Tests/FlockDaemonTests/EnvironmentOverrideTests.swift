import FlockDaemon
import FlockTestSupport
import Foundation
import Testing

/// Environment variables override the config file, and a bad value names its variable.
@Suite struct EnvironmentOverrideTests {
    func baseConfig() throws -> (Scratch, String) {
        let scratch = try Scratch()
        try scratch.webPolicy()
        let path = try scratch.write(
            "flockd.yaml",
            """
            store: { path: file.db }
            listen: 127.0.0.1:9464
            api_token: fromtheconfigfile0
            log: { format: text, level: info }
            balancers: { lb: { kind: haproxy, socket: /run/haproxy/admin.sock } }
            hypervisors: { vm: { kind: memory } }
            pools: { web: { policy: web.yaml, balancer: lb, hypervisor: vm } }
            """)
        return (scratch, path)
    }

    func load(_ path: String, _ environment: [String: String]) throws(DaemonError) -> DaemonConfig {
        try DaemonConfigParser.load(path: path, environment: environment, kinds: .test)
    }

    @Test func everyVariableOverridesItsValue() throws {
        let (scratch, path) = try baseConfig()
        let plain = try load(path, [:])
        #expect(plain.store.path == scratch.path("file.db"))
        #expect(plain.apiToken == "fromtheconfigfile0")

        let config = try load(
            path,
            [
                "FLOCKD_LISTEN": "[::1]:9500", "FLOCKD_API_TOKEN": "fromtheenvironment0", "FLOCKD_LOG_LEVEL": "debug",
                "FLOCKD_LOG_FORMAT": "json", "FLOCK_DB": "/tmp/elsewhere.db",
            ])
        #expect(config.listen == ListenAddress(host: "::1", port: 9500))
        #expect(config.apiToken == "fromtheenvironment0")
        #expect(config.log.level == .debug)
        #expect(config.log.format == .json)
        #expect(config.store.path == "/tmp/elsewhere.db")
    }

    @Test func emptyVariablesAreIgnored() throws {
        let (scratch, path) = try baseConfig()
        defer { withExtendedLifetime(scratch) {} }
        let config = try load(path, ["FLOCKD_LISTEN": "", "FLOCKD_API_TOKEN": ""])
        #expect(config.listen.port == 9464)
        #expect(config.apiToken == "fromtheconfigfile0")
    }

    @Test(arguments: [
        ("FLOCKD_LISTEN", "nowhere", "$FLOCKD_LISTEN: 'nowhere' is not HOST:PORT"),
        ("FLOCKD_API_TOKEN", "short", "$FLOCKD_API_TOKEN: the API token must be at least 16 characters"),
        ("FLOCKD_LOG_LEVEL", "loud", "$FLOCKD_LOG_LEVEL: unknown level 'loud'"),
        ("FLOCKD_LOG_FORMAT", "xml", "$FLOCKD_LOG_FORMAT: unknown format 'xml'"),
    ])
    func badValuesNameTheirVariable(_ variable: String, _ value: String, _ message: String) throws {
        let (scratch, path) = try baseConfig()
        defer { withExtendedLifetime(scratch) {} }
        do {
            _ = try load(path, [variable: value])
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect(error.isConfigError)
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
    }
}
