import FlockCore
import FlockStore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// flockd's HTTP interface: `/healthz`, Prometheus `/metrics`, the JSON `/v1` API and the
/// operator's console at `/ui` (`Console`), which reads that API like any other client.
///
/// Reads come from the store (what `flockctl status` reads too) plus what only the running
/// daemon knows (the policy version it runs, the last tick). Writes (pause, resume, a manual
/// desired count) go to the store, which each pool's loop reads every tick; they need the
/// bearer token, compared in constant time. Without a configured token they are refused, so an
/// API reachable by others can never be used to change a pool by accident.
public struct APIServer: Sendable {
    let store: FlockStore
    let pools: [String: PoolRuntime]
    let poolOrder: [String]
    let token: String?
    let limits: APILimits

    public init(store: FlockStore, pools: [PoolRuntime], token: String?, limits: APILimits = APILimits()) {
        self.store = store
        self.pools = Dictionary(uniqueKeysWithValues: pools.map { ($0.name, $0) })
        self.poolOrder = pools.map(\.name)
        self.token = token
        self.limits = limits
    }

    /// The HTTP server as a service for the daemon's service group.
    /// - Parameter onServerRunning: gets the bound port (tests listen on port 0).
    public func application(
        listen: ListenAddress, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: limits.idleTimeAmount)),
            configuration: .init(
                address: .hostname(listen.host, port: listen.port), serverName: "flockd",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? listen.port) },
            logger: logger
        )
    }

    /// Every route; separate from `application` so the routes are testable on their own.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: BodyLimitMiddleware(maxBytes: limits.maxBodyBytes))
        router.get("healthz") { _, _ in try self.health() }
        Console.addRoutes(to: router)
        router.get("metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: DaemonMetrics.render())))
        }
        router.get("v1/pools") { _, _ in
            try self.json(APIModels.PoolList(pools: try self.poolOrder.map { try self.view(of: $0) }))
        }
        router.get("v1/pools/:pool") { _, context in
            try self.json(try self.view(of: try self.poolName(context)))
        }
        router.get("v1/pools/:pool/instances") { _, context in
            let name = try self.poolName(context)
            let instances = try self.storeCall { try self.store.instances(pool: name) }
            // A pool without placement runs everything on the parent's host.
            let homes = await self.pools[name]?.hosts?.vmHomes()
            return try self.json(
                APIModels.InstanceList(
                    pool: name,
                    instances: instances.map { instance in
                        APIModels.InstanceView(
                            instance, host: homes.map { $0[instance.name] } ?? Placement.localHost)
                    }))
        }
        router.get("v1/pools/:pool/samples") { request, context in
            try self.samples(request, pool: try self.poolName(context))
        }
        router.get("v1/pools/:pool/decisions") { request, context in
            try self.decisions(request, pool: try self.poolName(context))
        }
        router.get("v1/pools/:pool/policy") { _, context in try self.policy(pool: try self.poolName(context)) }
        router.get("v1/hosts") { _, _ in try await self.hosts() }
        router.get("v1/events") { request, _ in try self.events(request) }
        router.post("v1/pools/:pool/pause") { request, context in
            try self.authorize(request)
            let name = try self.poolName(context)
            try self.storeCall { try self.store.setPaused(pool: name, true) }
            return try self.json(try self.view(of: name))
        }
        router.post("v1/pools/:pool/resume") { request, context in
            try self.authorize(request)
            let name = try self.poolName(context)
            try self.storeCall { try self.store.setPaused(pool: name, false) }
            return try self.json(try self.view(of: name))
        }
        router.put("v1/pools/:pool/desired") { request, context in
            try self.authorize(request)
            let name = try self.poolName(context)
            let count = try Self.desiredCount(try await self.collectBody(request))
            try self.storeCall { try self.store.setManualDesired(pool: name, count) }
            return try self.json(try self.view(of: name))
        }
        return router
    }

    // MARK: handlers

    func health() throws -> Response {
        do {
            _ = try store.pools()
            return try json(APIModels.Health(status: "ok", pools: pools.count))
        } catch {
            return try json(
                APIModels.Health(status: "unhealthy", pools: pools.count, error: "\(error)"),
                status: .serviceUnavailable)
        }
    }

    /// Asks each placing pool's hosts at once; a pool without `placement:` has none.
    func hosts() async throws -> Response {
        let reporters = poolOrder.compactMap { pools[$0]?.hosts }
        let statuses = await withTaskGroup(of: [HostStatus].self) { group in
            for reporter in reporters { group.addTask { await reporter.hostStatuses() } }
            var statuses: [HostStatus] = []
            for await part in group { statuses += part }
            return statuses
        }
        return try json(APIModels.HostList(hosts: HostStatus.merged(statuses)))
    }

    func events(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        var since: Int64?
        if let text = query["since"] {
            guard let value = Int64(text), value >= 0 else {
                throw APIError.badRequest("since must be an event id (a whole number ≥ 0); got '\(text)'")
            }
            since = value
        }
        let limit = try Self.limit(query["limit"].map(String.init), limits: (default: 100, max: 1000))
        var pool: String?
        if let text = query["pool"] {
            pool = String(text)
            guard pools[String(text)] != nil else { throw Self.unknownPool(String(text), known: poolOrder) }
        }
        // Without `since` a client wants the latest events, not the oldest ones ever recorded.
        let events = try storeCall {
            since == nil
                ? try store.recentEvents(pool: pool, limit: limit)
                : try store.events(pool: pool, since: since, limit: limit)
        }
        return try json(
            APIModels.EventList(events: events.map(APIModels.EventView.init), lastId: events.last?.id ?? since))
    }

    /// Checks `Authorization: Bearer <token>`.
    func authorize(_ request: Request) throws {
        guard let token else {
            throw APIError.forbidden(
                "changes through the API are disabled: flockd has no api_token (set api_token_file or FLOCKD_API_TOKEN)"
            )
        }
        guard let presented = ApiToken.bearer(request.headers[.authorization]) else {
            throw APIError.unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
        }
        guard ApiToken.matches(presented, token) else {
            throw APIError.unauthorized("the bearer token is not flockd's api_token")
        }
    }

    /// The whole body, refused with 413 past the limit: a chunked body declares no length for
    /// `BodyLimitMiddleware` to check.
    func collectBody(_ request: Request) async throws -> Data {
        var request = request
        do {
            return Data(try await request.collectBody(upTo: limits.maxBodyBytes).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.contentTooLarge(limits.maxBodyBytes)
        }
    }

    /// Reads `{"count": N}` (N ≥ 1) or `{"count": null}` (clear).
    static func desiredCount(_ body: Data) throws -> Int? {
        let usage = "send {\"count\": N} with N ≥ 1, or {\"count\": null} to go back to the policy"
        let parsed: DesiredBody
        do {
            parsed = try JSONDecoder().decode(DesiredBody.self, from: body)
        } catch let problem as DesiredBody.Problem {
            throw APIError.badRequest("\(problem.message); \(usage)")
        } catch {
            throw APIError.badRequest("the body is not a JSON object; \(usage)")
        }
        guard let count = parsed.count else { return nil }
        guard (1...Policy.countLimit).contains(count) else {
            throw APIError.badRequest(
                "count must be from 1 to \(Policy.countLimit) (the parent always serves); got \(count)")
        }
        return count
    }

    /// `{"count": N | null}` and nothing else: a typo such as `{"cuont": 3}` must not clear the count.
    struct DesiredBody: Decodable {
        var count: Int?

        struct Problem: Error { var message: String }
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            let unknown = container.allKeys.map(\.stringValue).filter { $0 != "count" }.sorted()
            guard unknown.isEmpty else { throw Problem(message: "unknown field(s) \(unknown.joined(separator: ", "))") }
            let key = Key(stringValue: "count")
            guard container.contains(key) else { throw Problem(message: "missing 'count'") }
            if try container.decodeNil(forKey: key) { return }
            guard let value = try? container.decode(Int.self, forKey: key) else {
                throw Problem(message: "count must be a whole number or null")
            }
            count = value
        }
    }

    // MARK: helpers

    func poolName(_ context: BasicRequestContext) throws -> String {
        let name = try context.parameters.require("pool")
        guard pools[name] != nil else { throw Self.unknownPool(name, known: poolOrder) }
        return name
    }

    static func unknownPool(_ name: String, known: [String]) -> APIError {
        APIError.notFound(
            "no pool '\(name)' in this flockd (pools: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
    }

    func view(of name: String) throws -> APIModels.PoolView {
        guard let runtime = pools[name] else { throw Self.unknownPool(name, known: poolOrder) }
        let stored = try storeCall { try store.status(pool: name) }
        let (policy, version) = runtime.policy
        let status =
            stored
            ?? PoolStatus(
                name: name, backend: policy.balancer.backend, policyVersion: version, paused: false, manualDesired: nil,
                serving: 0, warming: 0, standby: 0, draining: 0, failed: 0, lastDecision: nil)
        return APIModels.PoolView(status: status, runtime: runtime)
    }

    /// Store failures are the daemon's problem, not the caller's: 503 with the store's message.
    func storeCall<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw APIError.unavailable("the store failed: \(error)")
        }
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let data = try APIModels.encoder().encode(value)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
