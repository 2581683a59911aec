import Foundation

/// The answer to `show servers state [backend]`, version `1`: one line per server with its
/// operational and administrative state.
///
/// This is the format HAProxy itself writes for `server-state-file`, so it is stable across
/// versions; fields are read by the names in the `# be_id be_name …` header.
public struct ServersState: Sendable, Hashable {
    public var servers: [ServerState]

    /// Parses the text. Throws `HAProxyError.malformed` for anything that is not a version-1 dump.
    public init(parsing text: String, command: String = "show servers state") throws(HAProxyError) {
        // Every line HAProxy writes ends with a newline; text that does not was cut short.
        guard text.isEmpty || text.hasSuffix("\n") else {
            throw .malformed(command, "the answer ends in the middle of a line (cut short?)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        guard let version = lines.first else { throw .malformed(command, "empty answer") }
        guard version == "1" else {
            throw .malformed(
                command,
                "expected the format version '1' on the first line, got '\(HAProxyError.firstLine(of: String(version)))'"
            )
        }
        guard lines.count >= 2, lines[1].hasPrefix("# ") else {
            throw .malformed(command, "expected a header line starting with '# ' after the version")
        }
        let columns = lines[1].dropFirst(2).split(separator: " ").map(String.init)
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        for required in ServerState.requiredColumns where index[required] == nil {
            throw .malformed(command, "the header has no '\(required)' column")
        }
        var servers: [ServerState] = []
        for (offset, line) in lines.dropFirst(2).enumerated() {
            if line.isEmpty { continue }
            let number = offset + 3
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count == columns.count else {
                throw .malformed(command, "line \(number) has \(fields.count) fields, the header has \(columns.count)")
            }
            servers.append(try ServerState(fields: fields, index: index, line: number, command: command))
        }
        self.servers = servers
    }

    public func server(_ name: String, of backend: String) -> ServerState? {
        servers.first { $0.backend == backend && $0.name == name }
    }
}

/// One server in `show servers state`.
public struct ServerState: Sendable, Hashable {
    /// `srv_op_state`: what the health checks and admin state make of the server.
    public enum OperationalState: Int, Sendable, Hashable {
        case stopped = 0, starting = 1, running = 2, stopping = 3
    }

    /// `srv_admin_state` bits (HAProxy's `SRV_ADMF_*`).
    public struct AdminState: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Put in maintenance from the CLI or the API (and every new dynamic server).
        public static let forcedMaintenance = AdminState(rawValue: 0x01)
        /// In maintenance because the server it tracks is.
        public static let inheritedMaintenance = AdminState(rawValue: 0x02)
        /// `disabled` in haproxy.cfg.
        public static let configMaintenance = AdminState(rawValue: 0x04)
        /// Draining, set from the CLI or the API.
        public static let forcedDrain = AdminState(rawValue: 0x08)
        public static let inheritedDrain = AdminState(rawValue: 0x10)
        /// DNS resolution failed.
        public static let resolutionMaintenance = AdminState(rawValue: 0x20)
        public static let hostnameMaintenance = AdminState(rawValue: 0x40)

        public static let anyMaintenance: AdminState = [
            .forcedMaintenance, .inheritedMaintenance, .configMaintenance, .resolutionMaintenance,
            .hostnameMaintenance,
        ]
        public static let anyDrain: AdminState = [.forcedDrain, .inheritedDrain]
    }

    /// `srv_check_result` (HAProxy's `CHK_RES_*`).
    public enum CheckResult: Int, Sendable, Hashable {
        case unknown = 0, neutral = 1, failed = 2, passed = 3, conditionallyPassed = 4
    }

    static let requiredColumns = [
        "be_name", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_check_result",
        "srv_check_health", "srv_port",
    ]

    public var backend: String
    public var name: String
    public var address: String
    /// `nil` when HAProxy has none (a server resolved by DNS SRV records).
    public var port: Int?
    public var operational: OperationalState
    public var admin: AdminState
    public var weight: Int?
    public var checkResult: CheckResult
    /// The health counter: 0 … rise+fall−1; the check calls the server up once it reaches `rise`.
    public var checkHealth: Int

    init(fields: [String], index: [String: Int], line: Int, command: String) throws(HAProxyError) {
        func text(_ column: String) -> String { fields[index[column]!] }
        func integer(_ column: String) throws(HAProxyError) -> Int {
            guard let value = Int(text(column)) else {
                throw .malformed(
                    command,
                    "line \(line): \(column) is not a number: '\(HAProxyError.firstLine(of: text(column), limit: 40))'")
            }
            return value
        }
        backend = text("be_name")
        name = text("srv_name")
        address = text("srv_addr")
        let rawPort = text("srv_port")
        port = rawPort == "-" ? nil : Int(rawPort)
        let op = try integer("srv_op_state")
        guard let operational = OperationalState(rawValue: op) else {
            throw .malformed(command, "line \(line): unknown srv_op_state \(op)")
        }
        self.operational = operational
        admin = AdminState(rawValue: try integer("srv_admin_state"))
        weight = index["srv_uweight"].flatMap { Int(fields[$0]) }
        checkResult = CheckResult(rawValue: try integer("srv_check_result")) ?? .unknown
        checkHealth = try integer("srv_check_health")
    }

    /// Taking new traffic: running, not in maintenance and not draining.
    public var isServing: Bool {
        operational == .running && admin.isDisjoint(with: .anyMaintenance) && admin.isDisjoint(with: .anyDrain)
    }
}
