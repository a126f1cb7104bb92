//! One ONNX model loaded and optimised once, run many times.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

type Plan = Arc<TypedRunnableModel>;

pub struct Model {
    plan: Plan,
}

impl Model {
    /// Pin the input to `shape` (batch 1): tract plans for one concrete shape.
    pub fn load(path: &Path, shape: &[usize]) -> TractResult<Model> {
        let plan = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true)
            .model_for_path(path)?
            .with_input_fact(0, f32::fact(shape).into())?
            .into_optimized()?
            .into_runnable()?;
        Ok(Model { plan })
    }

    /// Run on one input tensor; returns the first output flattened.
    pub fn run(&self, input: Tensor) -> Result<Vec<f32>, String> {
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| format!("inference failed: {e}"))?;
        let first = out.first().ok_or("the model returned no output")?;
        let view = first
            .to_plain_array_view::<f32>()
            .map_err(|e| format!("unexpected output type: {e}"))?;
        Ok(view.iter().copied().collect())
    }
}
