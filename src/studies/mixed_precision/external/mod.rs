//! `model = "command"`: the searched model lives in the user's own
//! long-lived worker processes (PyTorch, ONNX Runtime, anything), which load
//! it once and measure each configuration evoquant asks about, speaking the
//! JSON-lines protocol of [`protocol`].
//!
//! `parallel_evaluations` workers run side by side. A batch of genomes is
//! spread over them by a shared counter and each result lands in its
//! genome's slot, so a search gives the same results for any number of
//! workers as long as each evaluation depends only on its configuration
//! (the worker's part, as determinism is the command kind's). Request ids
//! are numbered by batch position, not by which worker took a request.
//!
//! A worker that exits, stops answering within `evaluator_timeout_s`, or
//! answers with something other than a reply to the request fails the trial
//! with a message naming the worker, the request and the last lines of the
//! worker's stderr. Workers are `crate::subprocess` children: killed and
//! reaped when the trial ends, and with evoquant.

pub mod protocol;
pub mod serve;

use super::genome::{Genome, LayerGene};
use super::model::{ModelLayer, QuantModel};
use crate::studies::StudyError;
use protocol::{Description, TrialFacts};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Lines of a worker's stderr quoted when it fails.
const STDERR_TAIL: usize = 12;
/// Longest reply line quoted in a message.
const QUOTE: usize = 200;

/// How to start the workers of one trial.
pub struct Setup<'a> {
    /// The command as the manifest wrote it, for messages and outputs
    /// (never the resolved absolute paths, which name this checkout).
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub workers: usize,
    pub timeout: Duration,
    /// The reply field that is the searched accuracy (higher is better).
    pub metric: String,
    pub facts: TrialFacts<'a>,
}

/// One worker process and the threads that read its output.
struct Worker {
    index: usize,
    label: String,
    child: Child,
    group: crate::subprocess::Group,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Why the worker can no longer be used.
    broken: Option<String>,
}

impl Worker {
    fn start(
        index: usize,
        label: &str,
        program: &PathBuf,
        args: &[String],
    ) -> Result<Worker, String> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (mut child, group) = crate::subprocess::spawn(&mut cmd)
            .map_err(|e| format!("cannot start `{label}`: {e}"))?;
        let stdin = child.stdin.take();
        let (tx, lines) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if !line.trim().is_empty() && tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        Ok(Worker {
            index,
            label: label.to_string(),
            child,
            group,
            stdin,
            lines,
            stderr,
            broken: None,
        })
    }

    fn stderr_tail(&self) -> String {
        // The stderr thread may still be reading what a dying worker wrote.
        std::thread::sleep(Duration::from_millis(20));
        let t = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        if t.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = t.iter().map(String::as_str).collect();
            format!("; last lines of its stderr:\n{}", lines.join("\n"))
        }
    }

    fn exit_status(&mut self) -> String {
        for _ in 0..50 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return format!("exited ({s})");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        "closed its stdout".into()
    }

    /// Send one request and wait for its reply.
    fn call(&mut self, request: &Value, what: &str, timeout: Duration) -> Result<Value, String> {
        let id = request.get("id").and_then(Value::as_u64).unwrap_or(0);
        let head = format!(
            "evaluator worker {} (`{}`), request {id} ({what})",
            self.index + 1,
            self.label
        );
        if let Some(why) = &self.broken {
            return Err(format!("{head}: the worker is unusable: {why}"));
        }
        let fail = |w: &mut Worker, why: String| {
            w.group.kill();
            w.broken = Some(why.clone());
            Err(format!("{head}: {why}{}", w.stderr_tail()))
        };
        let mut line = request.to_string();
        line.push('\n');
        let written = match self.stdin.as_mut() {
            Some(w) => w.write_all(line.as_bytes()).and_then(|()| w.flush()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        if written.is_err() {
            let status = self.exit_status();
            return fail(
                self,
                format!("the worker {status} before reading the request"),
            );
        }
        let reply = match self.lines.recv_timeout(timeout) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                return fail(
                    self,
                    format!(
                        "no reply within {} s (evaluator_timeout_s); the worker was killed",
                        timeout.as_secs_f64()
                    ),
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.exit_status();
                return fail(self, format!("the worker {status} without replying"));
            }
        };
        match serde_json::from_str::<Value>(&reply) {
            Ok(v) => match protocol::check_reply(&v, id) {
                Ok(_) => Ok(v),
                Err(e) => fail(self, e),
            },
            Err(e) => {
                let quoted: String = reply.chars().take(QUOTE).collect();
                fail(
                    self,
                    format!(
                        "the reply is not JSON ({e}): {quoted:?} (stdout is for replies only; log to stderr)"
                    ),
                )
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // EOF first, so a worker that cleans up on exit may; then the group.
        drop(self.stdin.take());
        self.group.kill();
        let _ = self.child.wait();
    }
}

/// The model behind the workers, as they described it.
pub struct ExternalModel {
    description: String,
    source: String,
    layers: Vec<ModelLayer>,
    fixed_params: u64,
    fp32_accuracy: f64,
    workers: Vec<Mutex<Worker>>,
    timeout: Duration,
    metric: String,
    next_id: AtomicU64,
}

impl ExternalModel {
    /// Start the workers, have each describe the model (they must agree),
    /// and measure the unquantized reference.
    pub fn start(setup: Setup) -> Result<ExternalModel, StudyError> {
        let label = setup.label.clone();
        let request = protocol::describe_request(0, &setup.facts);
        // Spawned from this thread, which lives as long as the trial: Linux
        // sends the parent-death signal when the spawning *thread* exits.
        let mut spawned = Vec::new();
        for i in 0..setup.workers.max(1) {
            spawned.push(
                Worker::start(i, &label, &setup.program, &setup.args).map_err(StudyError::new)?,
            );
        }
        // Models load in parallel.
        let started: Vec<Result<(Worker, Description), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = spawned
                .into_iter()
                .map(|mut w| {
                    let (label, request, setup) = (&label, &request, &setup);
                    s.spawn(move || {
                        crate::subprocess::block_sigpipe();
                        let reply = w.call(request, protocol::DESCRIBE, setup.timeout)?;
                        let obj = reply.as_object().cloned().unwrap_or_default();
                        let d = protocol::parse_description(&obj).map_err(|e| {
                            format!(
                                "evaluator worker {} (`{label}`), request 0 (describe): {e}",
                                w.index + 1
                            )
                        })?;
                        Ok((w, d))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("an evaluator thread panicked".into()))
                })
                .collect()
        });
        let mut workers = Vec::new();
        let mut first: Option<Description> = None;
        for r in started {
            let (w, d) = r.map_err(StudyError::new)?;
            match &first {
                None => first = Some(d),
                Some(f) if f.layers != d.layers || f.fixed_params != d.fixed_params => {
                    return Err(StudyError::new(format!(
                        "evaluator worker {} (`{label}`) described other layers than worker 1: every worker must load the same model",
                        w.index + 1
                    )));
                }
                Some(_) => {}
            }
            workers.push(Mutex::new(w));
        }
        let d = first.ok_or_else(|| StudyError::new("no evaluator worker started"))?;
        let mut model = ExternalModel {
            description: format!("{} (external evaluator `{label}`)", d.model),
            source: d.accuracy_source,
            layers: d.layers,
            fixed_params: d.fixed_params,
            fp32_accuracy: 0.0,
            workers,
            timeout: setup.timeout,
            metric: setup.metric,
            next_id: AtomicU64::new(1),
        };
        let fp32 = Genome::uniform(LayerGene::FP32, model.layers.len());
        model.fp32_accuracy = model.accuracies(&[&fp32])?[0];
        Ok(model)
    }

    fn evaluate(&self, worker: &mut Worker, id: u64, g: &Genome) -> Result<f64, String> {
        let request = protocol::evaluate_request(id, &self.layers, g);
        let what = format!("evaluate {}", g.summary());
        let reply = worker.call(&request, &what, self.timeout)?;
        let obj = reply.as_object().cloned().unwrap_or_default();
        protocol::metric(&obj, &self.metric).map_err(|e| {
            format!(
                "evaluator worker {} (`{}`), request {id} ({what}): {e}{}",
                worker.index + 1,
                worker.label,
                worker.stderr_tail()
            )
        })
    }
}

impl QuantModel for ExternalModel {
    fn description(&self) -> String {
        self.description.clone()
    }
    fn accuracy_source(&self) -> &str {
        &self.source
    }
    fn layers(&self) -> &[ModelLayer] {
        &self.layers
    }
    fn fixed_params(&self) -> u64 {
        self.fixed_params
    }
    fn fp32_accuracy(&self) -> f64 {
        self.fp32_accuracy
    }
    fn accuracies(&self, genomes: &[&Genome]) -> Result<Vec<f64>, StudyError> {
        let n = genomes.len();
        let base = self.next_id.fetch_add(n as u64, Ordering::SeqCst);
        let slots: Vec<OnceLock<Result<f64, String>>> = (0..n).map(|_| OnceLock::new()).collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in &self.workers {
                let (slots, next, failed) = (&slots, &next, &failed);
                s.spawn(move || {
                    crate::subprocess::block_sigpipe();
                    let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
                    while !failed.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            break;
                        }
                        let r = self.evaluate(&mut w, base + i as u64, genomes[i]);
                        if r.is_err() {
                            failed.store(true, Ordering::SeqCst);
                        }
                        let _ = slots[i].set(r);
                    }
                });
            }
        });
        // The first failure in batch order (slots after a failure may be
        // unset: the other workers stopped taking requests).
        let results: Vec<Option<Result<f64, String>>> =
            slots.into_iter().map(OnceLock::into_inner).collect();
        if let Some(Some(Err(e))) = results.iter().find(|r| matches!(r, Some(Err(_)))) {
            return Err(StudyError::new(e.clone()));
        }
        let mut out = Vec::with_capacity(n);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Some(Ok(a)) => out.push(a),
                _ => {
                    return Err(StudyError::new(format!(
                        "request {} was not answered",
                        base + i as u64
                    )));
                }
            }
        }
        Ok(out)
    }
}
