/// A policy's `standby` block: keep `count` clones restored and paused, ready to activate in a
/// fraction of a fresh clone's time.
extension Policy {
    public struct Standby: Sendable, Hashable {
        /// Standbys the pool keeps; they never count as capacity.
        public var count: Int
        /// A standby whose memory was frozen longer ago than this is replaced, so that an activated
        /// clone's caches are never further behind the parent's.
        public var maxAge: Duration

        public init(count: Int, maxAge: Duration = Standby.defaultMaxAge) {
            self.count = count
            self.maxAge = maxAge
        }

        /// Five minutes: a web cache warmed by the parent changes little in that time, and a
        /// refresh (one parent pause and a restore per standby) every five minutes costs little.
        public static let defaultMaxAge: Duration = .seconds(300)
    }
}
