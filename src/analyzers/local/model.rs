//! One ONNX model, loaded once and run many times through ONNX Runtime (the `ort` crate).
//!
//! The runtime is the `libonnxruntime.so` that `scripts/fetch-models.sh` takes out of the
//! `onnxruntime` PyPI wheel and puts beside the models ([`RUNTIME_FILE`]); it is loaded when the
//! first model is, once per process. Each session runs on one thread: labels and moderation run
//! side by side, each on its own core, and concurrent objects queue per model rather than
//! oversubscribing the CPU.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;

/// The ONNX Runtime library in `TRIAGE_MODEL_DIR`.
pub use crate::analyzers::ORT_RUNTIME_FILE as RUNTIME_FILE;

/// A model's input: NCHW or NHWC `f32`, batch 1.
pub struct Input {
    pub shape: [usize; 4],
    pub data: Vec<f32>,
}

pub struct Model {
    session: Mutex<Session>,
    /// Asks for the arena to give back, at the end of each run, what the run grew it by.
    shrink: Option<RunOptions>,
}

/// How a session manages its memory. The default is ONNX Runtime's own (CPU arena and memory
/// pattern on), what [`Model::load`] has always used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryOptions {
    /// The CPU arena keeps every block it ever grew to for reuse: good for fixed input sizes,
    /// but a model fed many sizes (OCR) keeps the high-water mark of each.
    pub cpu_arena: bool,
    /// Plans one buffer for all intermediate tensors of a given input shape; with shapes that
    /// change from run to run the plan is redone and mostly wasted.
    pub memory_pattern: bool,
    /// With the arena: return what a run grew it by when the run ends, so that a large input
    /// does not keep its memory while the process does other work (the peak stays).
    pub shrink_arena: bool,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            cpu_arena: true,
            memory_pattern: true,
            shrink_arena: false,
        }
    }
}

/// Load the runtime from `lib` (the first caller's path wins: a process has one runtime).
fn environment(lib: &Path) -> Result<&'static ort::environment::Environment, String> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        ort::init_from(lib)
            .map_err(|e| format!("loading ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("image-triage")
            .build()
            .map_err(|e| format!("starting ONNX Runtime: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl Model {
    /// Load `path` with the runtime library `lib`.
    pub fn load(path: &Path, lib: &Path) -> Result<Model, String> {
        Model::load_with(path, lib, MemoryOptions::default())
    }

    /// Load `path` with the runtime library `lib` and the given memory behaviour.
    pub fn load_with(path: &Path, lib: &Path, memory: MemoryOptions) -> Result<Model, String> {
        let env = environment(lib)?;
        let mut builder = Session::builder(env).map_err(|e| e.to_string())?;
        // The defaults are ONNX Runtime's own: left untouched, so `load` builds exactly the
        // session it always has.
        if memory != MemoryOptions::default() {
            builder = builder
                .with_execution_providers([ort::ep::CPU::default()
                    .with_arena_allocator(memory.cpu_arena)
                    .build()])
                .map_err(|e| e.to_string())?
                .with_memory_pattern(memory.memory_pattern)
                .map_err(|e| e.to_string())?;
        }
        let session = builder
            .with_intra_threads(1)
            .map_err(|e| e.to_string())?
            .with_inter_threads(1)
            .map_err(|e| e.to_string())?
            .with_parallel_execution(false)
            .map_err(|e| e.to_string())?
            .with_intra_op_spinning(false)
            .map_err(|e| e.to_string())?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| e.to_string())?
            .commit_from_file(path)
            .map_err(|e| e.to_string())?;
        let shrink = if memory.cpu_arena && memory.shrink_arena {
            let mut options = RunOptions::new().map_err(|e| e.to_string())?;
            options
                .set("memory.enable_memory_arena_shrinkage", "cpu:0")
                .map_err(|e| e.to_string())?;
            Some(options)
        } else {
            None
        };
        Ok(Model {
            session: Mutex::new(session),
            shrink,
        })
    }

    /// Run on one input; returns the first output flattened.
    pub fn run(&self, input: Input) -> Result<Vec<f32>, String> {
        self.run_with(input, |_, values| Ok(values.to_vec()))
    }

    /// Run on one input and hand the first output's shape and values to `f`, without copying
    /// them out of the runtime's buffer (a recognizer's output is timesteps × 18,710 classes).
    pub fn run_with<R>(
        &self,
        input: Input,
        f: impl FnOnce(&[usize], &[f32]) -> Result<R, String>,
    ) -> Result<R, String> {
        let shape: Vec<i64> = input.shape.iter().map(|&d| d as i64).collect();
        let tensor = Tensor::from_array((shape, input.data)).map_err(|e| format!("input: {e}"))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let out = match &self.shrink {
            Some(options) => session.run_with_options(ort::inputs![tensor], options),
            None => session.run(ort::inputs![tensor]),
        }
        .map_err(|e| format!("inference failed: {e}"))?;
        if out.len() == 0 {
            return Err("the model returned no output".into());
        }
        let (shape, values) = out[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("unexpected output type: {e}"))?;
        // A negative (symbolic) dimension cannot come back from a run; treat it as empty.
        let dims: Vec<usize> = shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect();
        f(&dims, values)
    }

    /// A custom metadata value stored in the model file (`None` when the key is absent).
    pub fn metadata(&self, key: &str) -> Result<Option<String>, String> {
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let meta = session
            .metadata()
            .map_err(|e| format!("reading model metadata: {e}"))?;
        Ok(meta.custom(key))
    }
}
