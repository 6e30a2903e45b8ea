//! The linear-memory limit and the wasm stack size, as wasmer `Tunables`.

use std::ptr::NonNull;

use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMConfig, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{MemoryType, Pages, TableType};

/// wasmer's default wasm stack, set explicitly (the same as the wasmtime runner's).
const STACK_BYTES: usize = 1 << 20;

/// wasmer's `BaseTunables` with every linear memory's maximum capped at `limit` (the pattern of
/// wasmer's own limit-memory example, clamping instead of refusing modules that declare a larger
/// maximum) and an explicit wasm stack size.
pub struct LimitTunables {
    base: BaseTunables,
    limit: Pages,
    vmconfig: VMConfig,
}

impl LimitTunables {
    pub fn new(limit_bytes: u64) -> Self {
        let pages = (limit_bytes / wasmer::WASM_PAGE_SIZE as u64).min(wasmer::WASM_MAX_PAGES as u64);
        LimitTunables {
            base: BaseTunables::new(),
            limit: Pages(pages as u32),
            vmconfig: VMConfig { wasm_stack_size: Some(STACK_BYTES) },
        }
    }

    fn capped(&self, ty: &MemoryType) -> Result<MemoryType, MemoryError> {
        if ty.minimum > self.limit {
            return Err(MemoryError::Generic(format!(
                "the memory's minimum of {} pages exceeds the limit of {} pages",
                ty.minimum.0, self.limit.0
            )));
        }
        let mut capped = *ty;
        capped.maximum = Some(ty.maximum.map_or(self.limit, |m| m.min(self.limit)));
        Ok(capped)
    }
}

impl Tunables for LimitTunables {
    // The style depends on the declared type only, so code compiled by the plain engine (whose
    // tunables see the same declared types) matches the memories created here.
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(&self, ty: &MemoryType, style: &MemoryStyle) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.capped(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        unsafe { self.base.create_vm_memory(&self.capped(ty)?, style, location) }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        unsafe { self.base.create_vm_table(ty, style, location) }
    }

    fn vmconfig(&self) -> &VMConfig {
        &self.vmconfig
    }
}
