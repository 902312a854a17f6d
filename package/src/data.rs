//! The data component: a few hundred bytes of code around a model's ONNX bytes and card,
//! exporting them as `wasml:model/model-data` (world `data` of `wit/model.wit`).
//!
//! It is encoded directly, not compiled: one core module whose memory starts with the
//! data (two `(pointer, length)` pairs, then the ONNX bytes, then the card) and whose two
//! functions return the address of their pair, as the canonical ABI wants for a returned
//! `list<u8>` or `string`. The layout is fixed, so [`decode`] can read a data component
//! back without running it, and check it is exactly what [`encode`] writes.

use wasm_encoder::{
    CanonicalFunctionSection, CanonicalOption, CodeSection, Component, ComponentAliasSection,
    ComponentExportKind, ComponentExportSection, ComponentTypeSection, ComponentValType, ConstExpr,
    DataSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, MemorySection,
    MemoryType, Module, ModuleSection, PrimitiveValType, TypeSection, ValType,
};

/// The interface a data component exports and the runner imports.
pub const MODEL_DATA: &str = "wasml:model/model-data@0.2.0";

/// Where the ONNX bytes start in the data component's memory: after the two pairs.
const HEADER: u32 = 16;
const PAGE: u64 = 65536;

/// The data component holding `onnx` and `card_json`.
pub fn encode(onnx: &[u8], card_json: &str) -> Vec<u8> {
    let onnx_len = u32::try_from(onnx.len()).expect("ONNX file under 4 GiB");
    let card_len = u32::try_from(card_json.len()).expect("card under 4 GiB");
    let card_at = HEADER + onnx_len;
    let mut header = Vec::with_capacity(HEADER as usize);
    for word in [HEADER, onnx_len, card_at, card_len] {
        header.extend_from_slice(&word.to_le_bytes());
    }

    let mut component = Component::new();
    component.section(&ModuleSection(&core_module(
        &header,
        onnx,
        card_json.as_bytes(),
    )));
    let mut instances = wasm_encoder::InstanceSection::new();
    instances.instantiate(0, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    component.section(&instances);
    let mut aliases = ComponentAliasSection::new();
    for (name, kind) in [
        ("memory", ExportKind::Memory),
        ("onnx", ExportKind::Func),
        ("card", ExportKind::Func),
    ] {
        aliases.alias(wasm_encoder::Alias::CoreInstanceExport {
            instance: 0,
            kind,
            name,
        });
    }
    component.section(&aliases);
    // Type 0: list<u8>; 1: func() -> list<u8>; 2: func() -> string.
    let mut types = ComponentTypeSection::new();
    types
        .defined_type()
        .list(ComponentValType::Primitive(PrimitiveValType::U8));
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(Some(ComponentValType::Type(0)));
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(Some(ComponentValType::Primitive(PrimitiveValType::String)));
    component.section(&types);
    let mut lifts = CanonicalFunctionSection::new();
    lifts.lift(0, 1, [CanonicalOption::Memory(0)]);
    lifts.lift(1, 2, [CanonicalOption::Memory(0), CanonicalOption::UTF8]);
    component.section(&lifts);
    let mut interface = wasm_encoder::ComponentInstanceSection::new();
    interface.export_items([
        ("onnx", ComponentExportKind::Func, 0),
        ("card", ComponentExportKind::Func, 1),
    ]);
    component.section(&interface);
    let mut exports = ComponentExportSection::new();
    exports.export(MODEL_DATA, ComponentExportKind::Instance, 0, None);
    component.section(&exports);
    component.finish()
}

fn core_module(header: &[u8], onnx: &[u8], card: &[u8]) -> Module {
    let bytes = (header.len() + onnx.len() + card.len()) as u64;
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    let mut functions = FunctionSection::new();
    functions.function(0).function(0);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: bytes.div_ceil(PAGE).max(1),
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports
        .export("memory", ExportKind::Memory, 0)
        .export("onnx", ExportKind::Func, 0)
        .export("card", ExportKind::Func, 1);
    let mut code = CodeSection::new();
    for pair in [0, 8] {
        let mut body = Function::new([]);
        body.instruction(&Instruction::I32Const(pair))
            .instruction(&Instruction::End);
        code.function(&body);
    }
    let mut data = DataSection::new();
    let mut at = 0u32;
    for segment in [header, onnx, card] {
        data.active(0, &ConstExpr::i32_const(at as i32), segment.iter().copied());
        at += segment.len() as u32;
    }
    let mut module = Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code)
        .section(&data);
    module
}

/// The ONNX bytes and card of a data component, if `component` is exactly what
/// [`encode`] writes for them.
pub fn decode(component: &[u8]) -> Option<(Vec<u8>, String)> {
    if !component.starts_with(b"\0asm") {
        return None;
    }
    let module = nested_sections(component, Nested::Module)
        .into_iter()
        .next()?;
    let segments = data_segments(&component[module])?;
    let [_, onnx, card] = <[&[u8]; 3]>::try_from(segments).ok()?;
    let card = String::from_utf8(card.to_vec()).ok()?;
    (encode(onnx, &card) == component).then(|| (onnx.to_vec(), card))
}

/// The active data segments of a core module, in order.
fn data_segments(module: &[u8]) -> Option<Vec<&[u8]>> {
    let mut segments = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::DataSection(reader) = payload.ok()? {
            for segment in reader {
                segments.push(segment.ok()?.data);
            }
        }
    }
    Some(segments)
}

/// Which nested sections [`nested_sections`] looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nested {
    Module,
    Component,
}

/// The byte ranges of a component's own nested core modules or components (not theirs).
pub(crate) fn nested_sections(component: &[u8], wanted: Nested) -> Vec<std::ops::Range<usize>> {
    let wanted_id = match wanted {
        Nested::Module => 1,
        Nested::Component => 4,
    };
    top_level_sections(component)
        .into_iter()
        .filter(|(id, _)| *id == wanted_id)
        .map(|(_, range)| range)
        .collect()
}

/// A component's top-level sections, `(id, contents)`, walked by their headers (id,
/// LEB128 size) without parsing their contents; none if the binary is cut short.
pub(crate) fn top_level_sections(component: &[u8]) -> Vec<(u8, std::ops::Range<usize>)> {
    const HEADER: usize = 8;
    let mut found = Vec::new();
    let mut at = HEADER;
    while at < component.len() {
        let id = component[at];
        let Some((size, after)) = leb128(component, at + 1) else {
            return Vec::new();
        };
        let Some(end) = after
            .checked_add(size)
            .filter(|end| *end <= component.len())
        else {
            return Vec::new();
        };
        found.push((id, after..end));
        at = end;
    }
    found
}

/// A custom section's contents split into its name and its data.
pub(crate) fn custom_section(contents: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, at) = leb128(contents, 0)?;
    let end = at
        .checked_add(length)
        .filter(|end| *end <= contents.len())?;
    Some((&contents[at..end], &contents[end..]))
}

/// An unsigned LEB128 `u32` at `at`, and where it ends.
fn leb128(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_component_is_valid_and_reads_back() {
        let component = encode(b"\x08\x07onnx", "{\"name\":\"m\"}");
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&component)
            .expect("valid component");
        let (onnx, card) = decode(&component).expect("decodes");
        assert_eq!(onnx, b"\x08\x07onnx");
        assert_eq!(card, "{\"name\":\"m\"}");
    }

    #[test]
    fn anything_else_does_not_decode() {
        let mut component = encode(b"onnx", "{}");
        let last = component.len() - 1;
        component[last] ^= 1;
        assert!(decode(&component).is_none());
        assert!(decode(b"\0asm").is_none());
    }
}
