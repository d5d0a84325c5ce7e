//! The golden transition table: every input of `machine::Input` given to a
//! service in each state of a set of fixtures (some in a shutdown, orderly,
//! fast or graceful), printed as
//! `STATE + INPUT -> NEXT STATE [answer] effects`, and compared with the
//! checked-in `transitions.txt`. A change of any decision of the state
//! machine shows here as a changed line: look at it, and if it is meant,
//! write the table anew with `VIGILD_BLESS=1 cargo test --test transitions`.

mod common;

use common::{Act, Sim};
use std::fmt::Write;
use vigild_engine::machine::{Command, Deps, Input, State, StopCause};
use vigild_engine::time::Instant;
use vigild_engine::unix::{ExitStatus, Pid};

/// A service `s` brought into one state.
struct Fixture {
    what: &'static str,
    config: &'static str,
    setup: fn(&mut Sim),
}

const DAEMON: &str = "[s]\nexec = /bin/s\nstop_timeout = 10s\nbackoff = 1s 10s\n";
const NOTIFY: &str = "[s]\nexec = /bin/s\nready = notify\nstart_timeout = 5s\nstop_timeout = 10s\n";

fn fixtures() -> Vec<Fixture> {
    vec![
        Fixture {
            what: "down, not wanted",
            config: "[s]\nexec = /bin/s\nautostart = no\n",
            setup: |_| {},
        },
        Fixture {
            what: "down, wanted, `after` not up",
            config: "[dep]\nexec = /bin/dep\nready = notify\n[s]\nexec = /bin/s\nafter = dep\n",
            setup: |_| {},
        },
        Fixture {
            what: "listening (activate)",
            config: "[s]\nexec = /bin/s\nmode = activate\nlisten = tcp:127.0.0.1:9000\n",
            setup: |_| {},
        },
        Fixture {
            what: "listening (accept, a worker runs)",
            config: "[s]\nexec = /bin/s\nmode = accept\nlisten = tcp:127.0.0.1:9000\n",
            setup: |t| {
                t.accept("s", 1);
            },
        },
        Fixture {
            what: "starting",
            config: NOTIFY,
            setup: |_| {},
        },
        Fixture {
            what: "starting, start timeout passed",
            config: NOTIFY,
            setup: |t| t.now = Instant::from_ms(6000),
        },
        Fixture {
            what: "up (daemon)",
            config: DAEMON,
            setup: |_| {},
        },
        Fixture {
            what: "up (oneshot, done)",
            config: "[s]\nexec = /bin/s\nmode = oneshot\n",
            setup: |t| t.exit(t.pid("s"), ExitStatus::Code(0)),
        },
        Fixture {
            what: "stopping (asked)",
            config: DAEMON,
            setup: |t| {
                t.stop("s");
            },
        },
        Fixture {
            what: "stopping (asked), KILL due",
            config: DAEMON,
            setup: |t| {
                t.stop("s");
                t.now = Instant::from_ms(10_000);
            },
        },
        Fixture {
            what: "stopping (start timeout)",
            config: NOTIFY,
            setup: |t| t.advance(5000),
        },
        Fixture {
            what: "stopping by itself",
            config: DAEMON,
            setup: |t| t.stopping_itself("s", t.pid("s")),
        },
        Fixture {
            what: "stopping by itself, start asked",
            config: DAEMON,
            setup: |t| {
                t.stopping_itself("s", t.pid("s"));
                t.start("s");
            },
        },
        Fixture {
            what: "stopping, a clean exit left processes",
            config: DAEMON,
            setup: |t| {
                t.world.remnants.insert("s".into());
                t.exit(t.pid("s"), ExitStatus::Code(0));
            },
        },
        Fixture {
            what: "stopping, and what was left is gone",
            config: DAEMON,
            setup: |t| {
                t.world.remnants.insert("s".into());
                t.exit(t.pid("s"), ExitStatus::Code(1));
                t.world.remnants.clear();
            },
        },
        Fixture {
            what: "up (daemon), in an orderly shutdown",
            config: DAEMON,
            setup: |t| t.sv.shutdown(&t.cfg, false),
        },
        Fixture {
            what: "up (daemon), in a fast shutdown",
            config: DAEMON,
            setup: |t| t.sv.shutdown(&t.cfg, true),
        },
        Fixture {
            what: "up (oneshot, done), in an orderly shutdown",
            config: "[s]\nexec = /bin/s\nmode = oneshot\n",
            setup: |t| {
                t.exit(t.pid("s"), ExitStatus::Code(0));
                t.sv.shutdown(&t.cfg, false);
            },
        },
        Fixture {
            what: "listening (accept, a worker runs), in a graceful shutdown",
            config: "[s]\nexec = /bin/s\nmode = accept\nlisten = tcp:127.0.0.1:9000\n",
            setup: |t| {
                t.accept("s", 1);
                t.sv.shutdown_gracefully(&t.cfg);
            },
        },
        Fixture {
            what: "stopping (asked), then a fast shutdown",
            config: DAEMON,
            setup: |t| {
                t.stop("s");
                t.sv.shutdown(&t.cfg, true);
            },
        },
        Fixture {
            what: "backoff, not due",
            config: DAEMON,
            setup: |t| t.exit(t.pid("s"), ExitStatus::Code(1)),
        },
        Fixture {
            what: "backoff, due",
            config: DAEMON,
            setup: |t| {
                t.exit(t.pid("s"), ExitStatus::Code(1));
                t.now = Instant::from_ms(1000);
            },
        },
    ]
}

/// Every input, for a service whose main process is `pid` (if any).
fn inputs(pid: Option<Pid>) -> Vec<Input> {
    let pid = pid.unwrap_or(Pid(999));
    vec![
        Input::Start,
        Input::Stop,
        Input::Restart,
        Input::Signal(1),
        Input::Exited {
            pid,
            status: ExitStatus::Code(0),
        },
        Input::Exited {
            pid,
            status: ExitStatus::Code(1),
        },
        Input::Ready { pid },
        Input::StoppingItself { pid },
        Input::Connection,
        Input::Tick,
        Input::WorkerEnded,
        Input::Due(Deps::Ready),
        Input::Due(Deps::Waiting),
        Input::Due(Deps::Failed),
        Input::Halt { blocked: false },
        Input::Halt { blocked: true },
        Input::Changed,
    ]
}

/// A state as the table shows it: its name and data, times in ms.
fn shown(state: State) -> String {
    let ms = |at: Option<Instant>| {
        at.map_or("-".into(), |at| {
            at.ms_since(Instant::from_ms(0)).to_string()
        })
    };
    match state {
        State::Down => "down".into(),
        State::Listening => "listening".into(),
        State::Starting { pid, deadline } => {
            format!("starting(pid {}, timeout {})", pid.0, ms(deadline))
        }
        State::Up { pid: Some(pid) } => format!("up(pid {})", pid.0),
        State::Up { pid: None } => "up(no process)".into(),
        State::Stopping {
            pid,
            kill_at,
            cause,
        } => {
            let pid = pid.map_or("-".into(), |p| p.0.to_string());
            let cause = match cause {
                StopCause::Asked => "asked",
                StopCause::ByItself => "by itself",
                StopCause::ByItselfThenStart => "by itself, then start",
                StopCause::StartTimeout => "start timeout",
                StopCause::LeftAfterSuccess => "left after success",
                StopCause::LeftAfterFailure => "left after failure",
            };
            format!("stopping(pid {pid}, kill {}, {cause})", ms(kill_at))
        }
        State::Backoff { until } => format!("backoff(until {})", ms(Some(until))),
    }
}

fn input_shown(input: Input) -> String {
    match input {
        Input::Exited { status, .. } => format!("exited({status})"),
        Input::Ready { .. } => "ready".into(),
        Input::StoppingItself { .. } => "stopping-itself".into(),
        Input::Signal(n) => format!("signal({n})"),
        Input::Halt { blocked } => format!("halt({})", if blocked { "blocked" } else { "free" }),
        Input::Due(deps) => format!("due(deps {deps:?})").to_lowercase(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn act_shown(act: &Act) -> String {
    match act {
        Act::Spawn(name, pid) => format!("spawn {name}={pid}"),
        Act::SpawnFailed(name, errno) => format!("spawn {name} failed {errno}"),
        Act::Kill { pid, signal, group } => {
            format!("kill{} {pid} {signal}", if *group { "-group" } else { "" })
        }
        Act::Changed(name, from, to) => format!("told {name} {from}->{to}"),
    }
}

/// The whole table, one line per (fixture, input).
fn table() -> String {
    let mut out = String::new();
    for f in fixtures() {
        let pid = {
            let mut t = Sim::new(f.config);
            (f.setup)(&mut t);
            t.state("s").pid()
        };
        // Outside a shutdown, `halt` is what a reload that removed the
        // service gives it.
        let halt = if f.what.contains("shutdown") {
            ""
        } else {
            " (halt: removed by a reload)"
        };
        writeln!(out, "## {}{halt}", f.what).unwrap();
        for input in inputs(pid) {
            // Each input on a fresh copy of the fixture.
            let mut t = Sim::new(f.config);
            (f.setup)(&mut t);
            t.take();
            let before = t.state("s");
            let id = t.id("s");
            // Commands as the driver gives them: in a shutdown they are
            // refused before they reach the service.
            let command = match input {
                Input::Start => Some(Command::Start(id)),
                Input::Stop => Some(Command::Stop(id)),
                Input::Restart => Some(Command::Restart(id)),
                Input::Signal(n) => Some(Command::Signal(id, n)),
                _ => None,
            };
            let answer = match command {
                Some(cmd) => Some(t.sv.command(&t.cfg, t.now, cmd, &mut t.world)),
                None => t.sv.step(&t.cfg, id, input, t.now, &mut t.world),
            };
            let slot = t.slot("s");
            let mut line = format!(
                "{:<30} + {:<18} -> {}",
                shown(before),
                input_shown(input),
                shown(slot.state)
            );
            if slot.reason != vigild_engine::machine::Reason::None {
                write!(line, " reason={}", slot.reason).unwrap();
            }
            write!(
                line,
                " {}",
                if slot.wanted_up() {
                    "wanted"
                } else {
                    "unwanted"
                }
            )
            .unwrap();
            if let Some(answer) = answer {
                write!(line, " [{}]", answer.word()).unwrap();
            }
            for act in t.take() {
                write!(line, "; {}", act_shown(&act)).unwrap();
            }
            writeln!(out, "{}", line.trim_end()).unwrap();
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_state_and_input_is_as_the_table_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transitions.txt");
    let now = table();
    if std::env::var_os("VIGILD_BLESS").is_some() {
        std::fs::write(path, &now).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(path).unwrap_or_default();
    if golden != now {
        let changed: Vec<String> = golden
            .lines()
            .zip(now.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "the state machine's decisions changed ({} lines before, {} now); first differences:\n{}\n\
             if this is meant: VIGILD_BLESS=1 cargo test --test transitions",
            golden.lines().count(),
            now.lines().count(),
            changed.join("\n")
        );
    }
}
