/// The driver kinds a build of flockd provides, one factory per `kind:` value of each section.
///
/// The `flockd` executable lists the kinds it links (QEMU, Xen, HAProxy, Prometheus); tests list
/// in-memory ones. The config parser and `Daemon` only ever look kinds up here.
public struct DriverKinds: Sendable {
    public var hypervisors: [any HypervisorFactory]
    public var balancers: [any BalancerFactory]
    public var metrics: [any MetricsSourceFactory]
    /// What makes pools with `placement:` use other hosts; nil in a build without it.
    public var placement: (any PlacementFactory)?

    public init(
        hypervisors: [any HypervisorFactory] = [], balancers: [any BalancerFactory] = [],
        metrics: [any MetricsSourceFactory] = [], placement: (any PlacementFactory)? = nil
    ) {
        self.hypervisors = hypervisors
        self.balancers = balancers
        self.metrics = metrics
        self.placement = placement
    }

}
