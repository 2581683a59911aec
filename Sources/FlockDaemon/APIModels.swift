import FlockCore
import FlockStore
import Foundation

/// The JSON shapes of flockd's `/v1` API. Keys are snake_case and times ISO 8601 (UTC), the
/// same as `flockctl status --json` and `flockctl events --json`, so scripts can use either.
enum APIModels {
    /// A pool's stored status plus what only the running daemon knows.
    struct PoolView: Encodable {
        var status: PoolStatus
        /// The policy version the daemon runs (may lag the store's `policy_version` by one poll).
        var runningPolicyVersion: Int?
        var evaluationInterval: String
        var capacity: Capacity
        var lastTick: Date?
        /// False until start-up reconciliation has succeeded; no tick runs before.
        var recovered: Bool

        struct Capacity: Encodable { var min: Int; var max: Int }

        enum Keys: String, CodingKey {
            case runningPolicyVersion = "running_policy_version"
            case evaluationInterval = "evaluation_interval"
            case capacity
            case lastTick = "last_tick"
            case recovered
        }

        func encode(to encoder: any Encoder) throws {
            try status.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(runningPolicyVersion, forKey: .runningPolicyVersion)
            try container.encode(evaluationInterval, forKey: .evaluationInterval)
            try container.encode(capacity, forKey: .capacity)
            try container.encode(lastTick, forKey: .lastTick)
            try container.encode(recovered, forKey: .recovered)
        }

        init(status: PoolStatus, runtime: PoolRuntime) {
            let (policy, version) = runtime.policy
            self.status = status
            self.runningPolicyVersion = version
            self.evaluationInterval = policy.evaluationInterval.flockText
            self.capacity = Capacity(min: policy.capacity.min, max: policy.capacity.max)
            self.lastTick = runtime.lastTick.time
            self.recovered = runtime.isRecovered
        }
    }

    struct PoolList: Encodable { var pools: [PoolView] }

    /// Every host the pools' placements name, merged across pools (`HostStatus.merged`).
    struct HostList: Encodable { var hosts: [HostStatus] }

    struct InstanceView: Encodable {
        var name: String
        var role: String
        var state: String
        var address: String?
        var port: Int?
        var mac: String?
        var parent: String?
        var snapshot: String?
        /// The host it runs on (`local` for the parent's own); nil when a placing pool's
        /// hypervisor does not know it (a failed clone, say).
        var host: String?
        var generation: Int
        var cloneMode: String?
        var failure: String?
        var createdAt: Date
        var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case name, role, state, address, port, mac, parent, snapshot, host, generation, failure
            case cloneMode = "clone_mode"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }

        init(_ i: Instance, host: String?) {
            name = i.name
            self.host = host
            role = i.role.rawValue
            state = i.state.rawValue
            address = i.address
            port = i.port
            mac = i.mac
            parent = i.lineage.parent
            snapshot = i.lineage.snapshot
            generation = i.lineage.generation
            cloneMode = i.lineage.mode?.rawValue
            failure = i.failure
            createdAt = i.createdAt
            updatedAt = i.updatedAt
        }
    }

    struct InstanceList: Encodable {
        var pool: String
        var instances: [InstanceView]
    }

    struct EventView: Encodable {
        var id: Int64
        var time: Date
        var pool: String?
        var kind: String
        var message: String

        init(_ recorded: RecordedEvent) {
            id = recorded.id
            time = recorded.event.time
            pool = recorded.event.pool
            kind = recorded.event.kind.rawValue
            message = recorded.event.message
        }
    }

    struct EventList: Encodable {
        var events: [EventView]
        /// Pass as `since` to get only newer events; unchanged when there were none.
        var lastId: Int64?

        enum CodingKeys: String, CodingKey {
            case events
            case lastId = "last_id"
        }
    }

    struct Health: Encodable {
        var status: String
        var pools: Int
        var error: String?
    }

    struct ErrorBody: Encodable { var error: String }

    /// The encoder every response uses.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
