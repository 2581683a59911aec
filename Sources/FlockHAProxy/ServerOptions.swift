/// Per-server settings sent with `add server`.
///
/// HAProxy 2.6 gives a dynamic server nothing from `default-server`, so whatever a pool wants
/// (check interval, thresholds, connection limit, slow start, weight) must be spelled out on
/// every `add server`. `nil` leaves HAProxy's built-in default.
public struct ServerOptions: Sendable, Hashable {
    /// Time between health checks (`inter`). Short values make registration faster.
    public var interval: Duration?
    /// Consecutive passing checks before the server counts as up (`rise`, HAProxy default 2).
    public var rise: Int?
    /// Consecutive failing checks before the server counts as down (`fall`, HAProxy default 3).
    public var fall: Int?
    /// Concurrent connections HAProxy sends the server before queueing (`maxconn`).
    public var maxConnections: Int?
    /// Ramp-up time during which the server's weight grows from zero (`slowstart`).
    public var slowStart: Duration?
    /// Relative share of traffic, 0…256 (`weight`).
    public var weight: Int?

    public init(
        interval: Duration? = nil, rise: Int? = nil, fall: Int? = nil, maxConnections: Int? = nil,
        slowStart: Duration? = nil, weight: Int? = nil
    ) {
        self.interval = interval
        self.rise = rise
        self.fall = fall
        self.maxConnections = maxConnections
        self.slowStart = slowStart
        self.weight = weight
    }

    /// HAProxy's default `rise`, which the registration wait needs to read the health counter.
    public var effectiveRise: Int { rise ?? 2 }

    /// The words after `check` on the `add server` line.
    func words() throws(HAProxyError) -> [String] {
        var words: [String] = []
        if let interval {
            words += ["inter", try Self.milliseconds(interval, name: "inter")]
        }
        if let rise {
            guard (1...1000).contains(rise) else { throw .invalidArgument("rise must be 1…1000, not \(rise)") }
            words += ["rise", String(rise)]
        }
        if let fall {
            guard (1...1000).contains(fall) else { throw .invalidArgument("fall must be 1…1000, not \(fall)") }
            words += ["fall", String(fall)]
        }
        if let maxConnections {
            guard (1...1_000_000).contains(maxConnections) else {
                throw .invalidArgument("maxconn must be 1…1000000, not \(maxConnections)")
            }
            words += ["maxconn", String(maxConnections)]
        }
        if let slowStart {
            words += ["slowstart", try Self.milliseconds(slowStart, name: "slowstart")]
        }
        if let weight {
            guard (0...256).contains(weight) else { throw .invalidArgument("weight must be 0…256, not \(weight)") }
            words += ["weight", String(weight)]
        }
        return words
    }

    private static func milliseconds(_ duration: Duration, name: String) throws(HAProxyError) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        guard millis >= 1, millis <= 24 * 3_600_000 else {
            throw .invalidArgument("\(name) must be between 1ms and 24h, not \(duration)")
        }
        return "\(millis)ms"
    }
}
