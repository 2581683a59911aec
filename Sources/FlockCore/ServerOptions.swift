/// How the balancer treats one server: health-check pacing, connection limit, slow start, weight.
///
/// Balancers add dynamic servers without any template (HAProxy 2.6 applies no `default-server`
/// to them), so whatever a pool wants must travel with each registration. `nil` leaves the
/// balancer's own default. The names follow HAProxy's keywords, the balancer most users run.
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

    /// Valid ranges, shared by policy validation and the drivers.
    public static let riseFallRange = 1...1000
    public static let maxConnectionsRange = 1...1_000_000
    public static let weightRange = 0...256
    /// Check intervals and slow starts are whole milliseconds in this range.
    public static let durationRange: ClosedRange<Duration> = .milliseconds(1)...(.seconds(24 * 3600))

    /// These options with every field that `other` sets taken from `other`: a pool's policy
    /// overrides the balancer's defaults field by field.
    public func overridden(by other: ServerOptions) -> ServerOptions {
        ServerOptions(
            interval: other.interval ?? interval, rise: other.rise ?? rise, fall: other.fall ?? fall,
            maxConnections: other.maxConnections ?? maxConnections, slowStart: other.slowStart ?? slowStart,
            weight: other.weight ?? weight
        )
    }
}
