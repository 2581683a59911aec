import FlockCore
import Foundation
import Testing

@testable import FlockHAProxy

#if canImport(Glibc)
    import Glibc
#endif

/// Issue list 9: garbage, truncated, huge and random input from the socket gives errors, never a crash.
@Suite(.timeLimit(.minutes(2)))
struct ParserFuzzTests {
    /// A real `show stat` and `show servers state` answer from HAProxy 2.6, to mutate.
    static let stat = #"""
        # pxname,svname,qcur,qmax,scur,smax,slim,stot,status,rate,check_status,check_desc,hrsp_5xx,rtime,algo,
        web,FRONTEND,,,0,0,200,0,OPEN,0,,,0,,,
        app,static1,0,0,3,4,,12,UP,1,L7OK,"Layer7 check passed, ""ok""",0,2,,
        app,BACKEND,0,0,3,4,20,12,UP,1,,,5,2,roundrobin,

        """#
    static let state = """
        1
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
        3 app 1 static1 127.0.0.1 2 0 1 1 15 6 3 3 6 0 0 0 - 19081 - 0 0 - - 0
        3 app 2 flock-web-1 127.0.0.1 0 1 1 1 0 1 0 0 2 0 0 0 - 19082 - 0 0 - - 0

        """

    @Test func realAnswersParse() throws {
        let table = try StatTable(parsing: Self.stat)
        #expect(table.backend("app")?.integer("scur") == 3)
        #expect(table.server("static1", of: "app")?["check_desc"] == #"Layer7 check passed, "ok""#)
        #expect(table.server("static1", of: "app")?.isServing == true)
        #expect(table.servers(of: "app").count == 1)
        let state = try ServersState(parsing: Self.state)
        #expect(state.servers.map(\.name) == ["static1", "flock-web-1"])
        #expect(state.server("flock-web-1", of: "app")?.admin.contains(.forcedMaintenance) == true)
        #expect(state.server("static1", of: "app")?.isServing == true)
    }

    @Test func knownBadAnswersAreMalformedErrors() {
        let stats = [
            "", "\n", "No such proxy.\n", "pxname,svname\n", "# \n", "# foo,bar\n",
            "# pxname,svname,scur,\napp,BACKEND\n",  // too few fields
            "# pxname,svname,scur,\napp,BACKEND,1,2,3,4\n",  // too many
            "# pxname,svname,scur,\napp,\"BACKEND,1,\n",  // unterminated quote
            "# pxname,svname,scur,\n,,1,\n",  // no names
        ]
        for text in stats {
            #expect(throws: HAProxyError.self, "\(text.debugDescription)") { try StatTable(parsing: text) }
        }
        let states = [
            "", "2\n# be_name\n", "1\n", "1\nbe_name srv_name\n", "1\n# be_id be_name\n3 app\n",
            Self.state.replacingOccurrences(of: "127.0.0.1 2 0", with: "127.0.0.1 x 0"),
            Self.state.replacingOccurrences(of: "127.0.0.1 2 0", with: "127.0.0.1 9 0"),
            Self.state.replacingOccurrences(of: " 19081", with: ""),
        ]
        for text in states {
            #expect(throws: HAProxyError.self, "\(text.debugDescription)") { try ServersState(parsing: text) }
        }
    }

    /// Random bytes, random CSV, truncations and mutations of real answers: each parses or throws
    /// `HAProxyError`, and a parsed table never holds a row whose width differs from the header.
    @Test func randomInputNeverCrashes() {
        var rng = SplitMix64(seed: 0x5EED_F10C)
        var parsedStats = 0
        var parsedStates = 0
        let alphabet = Array("abc019,#\" \n\r-._:/;é\u{0}\t")
        for round in 0..<3000 {
            let text: String
            switch round % 5 {
            case 0:
                text = String(
                    decoding: (0..<Int(rng.next() % 400)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                    as: UTF8.self)
            case 1:
                text = String(
                    (0..<Int(rng.next() % 400)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            case 2:
                text = String(Self.stat.prefix(Int(rng.next() % UInt64(Self.stat.count + 1))))
            case 3:
                text = String(Self.state.prefix(Int(rng.next() % UInt64(Self.state.count + 1))))
            default:
                var characters = Array(round.isMultiple(of: 2) ? Self.stat : Self.state)
                for _ in 0..<(1 + Int(rng.next() % 5)) where !characters.isEmpty {
                    characters[Int(rng.next() % UInt64(characters.count))] =
                        alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
                text = String(characters)
            }
            do {
                let table = try StatTable(parsing: text)
                parsedStats += 1
                #expect(table.rows.allSatisfy { $0.fields.count == table.columns.count })
                _ = table.backend("app")?.number("scur")
            } catch {
                // Typed throws: the parser can only throw HAProxyError; its message must say something.
                #expect(!error.message.isEmpty)
            }
            do {
                let state = try ServersState(parsing: text)
                parsedStates += 1
                _ = state.servers.map(\.isServing)
            } catch {
                // Typed throws: the parser can only throw HAProxyError; its message must say something.
                #expect(!error.message.isEmpty)
            }
        }
        // Truncations at line ends and harmless mutations parse: the fuzzing reached the row code.
        #expect(parsedStats > 50)
        #expect(parsedStates > 50)
    }

    /// A peer that sends garbage, a cut-short answer or an endless one gets a typed error.
    @Test func garbageTruncatedAndHugeAnswersFromTheSocket() async throws {
        let huge = Array(repeating: UInt8(ascii: "x"), count: 3 * 1024 * 1024)
        let answers: [[UInt8]] = [
            Array("\u{1}\u{2}garbage\u{ff}\n".utf8),
            Array(Self.stat.prefix(90).utf8),  // cut inside the first data line
            Array("1\n# be_id be_name srv_name\n".utf8) + [0xff, 0xfe],
            [],
            huge,
        ]
        let peer = try FakeRuntimeAPI(answers: answers)
        defer { peer.stop() }
        let client = RuntimeClient(
            endpoint: .tcp(host: "127.0.0.1", port: peer.port), timeout: .seconds(5), responseLimit: 1024 * 1024
        )
        await #expect(throws: HAProxyError.self) { try await client.showStat() }
        await #expect(throws: HAProxyError.self) { try await client.showStat() }
        await #expect(throws: HAProxyError.self) { try await client.showServersState() }
        do {
            try await client.enableHealth(backend: "app", server: "flock-x")  // empty answer = success
        } catch {
            Issue.record("an empty answer is enable health's success: \(error)")
        }
        do {
            _ = try await client.showStat()
            Issue.record("expected the size limit to trip")
        } catch let error as HAProxyError {
            #expect(error.isResponseTooLarge)
        }
        // The peer has no answers left and never replies: a timeout, read as an error sample.
        var silent = client
        silent.timeout = .milliseconds(300)
        let samples = await HAProxyMetricsSource(client: silent).read(backend: "app", metrics: [.sessions])
        #expect(samples.count == 1 && samples[0].value == nil)
    }
}

/// A deterministic generator, so a failing fuzz round can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A stand-in for HAProxy's runtime API that answers each connection with the next canned
/// answer, then closes, as HAProxy does.
final class FakeRuntimeAPI: Sendable {
    let port: Int
    private let fd: Int32

    init(answers: [[UInt8]]) throws {
        (fd, port) = try Sockets.listenLoopback()
        let fd = fd
        Thread {
            for answer in answers {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                Sockets.setTimeouts(client, 5)
                var buffer = [UInt8](repeating: 0, count: 1024)
                _ = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                try? Sockets.sendAll(client, answer)
                close(client)
            }
        }.start()
    }

    /// Closes the listener; the serving thread owns nothing else, so no descriptor is closed twice.
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
