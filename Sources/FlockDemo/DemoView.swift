import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The demo's live output. On a terminal, events scroll and one compact status line (time,
/// phase, requests/s, instances by state) is redrawn in place; without one (CI=true, or output
/// to a file or pipe) every event is a plain line and the status is printed every 5 seconds.
public final class DemoView: Sendable {
    public let interactive: Bool
    private let state = Mutex(State())

    struct State {
        var phase = "starting"
        var statusShown = false
        var lastPlain = -5.0
        var live = true
    }

    public init(interactive: Bool) { self.interactive = interactive }

    public static var isInteractive: Bool {
        let ci = ProcessInfo.processInfo.environment["CI"]?.lowercased()
        return isatty(1) == 1 && ci != "true" && ci != "1"
    }

    /// A set-up or clean-up step.
    public func note(_ text: String) { line("demo: \(text)") }

    public func update(_ update: DemoUpdate) {
        switch update {
        case .phase(let name, let connections):
            state.withLock { $0.phase = name }
            line("load: \(name) — \(connections) wrk connections")
        case .event(let event):
            line("\(event.kind == "decision" ? "decision" : event.kind): \(event.message)")
        case .sample(let sample):
            let (phase, showPlain) = state.withLock { state -> (String, Bool) in
                let due = sample.t - state.lastPlain >= 5
                if due { state.lastPlain = sample.t }
                return (state.phase, due)
            }
            let text =
                String(format: "t=%4.0fs  ", sample.t) + phase.padding(toLength: 5, withPad: " ", startingAt: 0)
                + String(format: "  %6.1f req/s  p99 ", sample.requestRate)
                + (sample.p99Ms.map { String(format: "%5.0f ms", $0) } ?? "    - ms")
                + String(
                    format: "  serving %d  warming %d  draining %d  haproxy UP %d", sample.serving, sample.warming,
                    sample.draining, sample.upServers)
            if interactive {
                status(text)
            } else if showPlain {
                line(text)
            }
        }
    }

    /// Ends the redrawn status line, so the summary starts on a line of its own.
    public func finishLive() {
        guard interactive else { return }
        state.withLock { state in
            if state.statusShown { FileHandle.standardOutput.write(Data("\n".utf8)) }
            state.statusShown = false
        }
    }

    private func line(_ text: String) {
        state.withLock { state in
            var out = ""
            if interactive && state.statusShown {
                out += "\r\u{1B}[K"
                state.statusShown = false
            }
            out += text + "\n"
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }

    private func status(_ text: String) {
        state.withLock { state in
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + text).utf8))
            state.statusShown = true
        }
    }
}
