//! The part of ONNX's protobuf schema (`onnx.proto`, IR version 10) that card inference
//! and validation read: a graph's nodes, attributes, inputs, outputs and constant tensors.
//!
//! Hand-written prost messages rather than a parser with an inference engine behind it:
//! the host packages ONNX uploads but runs every model in the runner component, so it
//! needs the graph's shape, not tract (whose native build was a third of a cold build).
//! Field numbers are `onnx.proto`'s; fields not listed here are skipped when decoding.

use prost::Message;

/// `ModelProto`: the file.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    /// The tool that wrote the file (`skl2onnx`, `onnxmltools`).
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// The graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

/// `GraphProto`: nodes in topological order, constants, inputs and outputs.
#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    /// The nodes.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// Constant tensors (weights, class lists); older exporters list them among inputs too.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// The inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// The outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `NodeProto`: one operator application.
#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    /// Names of the values it reads.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Names of the values it writes.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator, e.g. `TreeEnsembleClassifier`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Its attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `AttributeProto`: a named constant of a node (one of the value fields is set).
#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// A float.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// An integer.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// A string (UTF-8 bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    /// Floats.
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    /// Integers.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// Strings (UTF-8 bytes).
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
}

/// `ValueInfoProto`: a graph input's or output's name and type.
#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    /// The value's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto`, of which only tensors are read (sequences and maps decode to `None`).
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    /// A tensor type.
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorType>,
}

/// `TypeProto.Tensor`: element type and shape.
#[derive(Clone, PartialEq, Message)]
pub struct TensorType {
    /// A [`DataType`].
    #[prost(enumeration = "DataType", tag = "1")]
    pub elem_type: i32,
    /// The shape, when declared.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `TensorShapeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    /// One per axis.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: a fixed size or a symbol (`N`).
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    /// The size, when fixed.
    #[prost(oneof = "DimensionValue", tags = "1, 2")]
    pub value: Option<DimensionValue>,
}

/// The size of a [`Dimension`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum DimensionValue {
    /// A fixed size.
    #[prost(int64, tag = "1")]
    DimValue(i64),
    /// A symbolic one.
    #[prost(string, tag = "2")]
    DimParam(String),
}

/// `TensorProto`: a constant, its values in the typed field of its type or in `raw_data`
/// (little-endian).
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    /// A [`DataType`].
    #[prost(enumeration = "DataType", tag = "2")]
    pub data_type: i32,
    /// Values of INT32 tensors (and the other narrow integer types).
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    /// Values of STRING tensors.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_data: Vec<Vec<u8>>,
    /// Values of INT64 tensors.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// The constant's name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Values of any numeric type, packed little-endian.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

/// `TensorProto.DataType`, the element types wasml meets in tabular models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    /// Not set.
    Undefined = 0,
    /// f32.
    Float = 1,
    /// u8.
    Uint8 = 2,
    /// i8.
    Int8 = 3,
    /// u16.
    Uint16 = 4,
    /// i16.
    Int16 = 5,
    /// i32.
    Int32 = 6,
    /// i64.
    Int64 = 7,
    /// UTF-8 strings.
    String = 8,
    /// bool.
    Bool = 9,
    /// f16.
    Float16 = 10,
    /// f64.
    Double = 11,
    /// u32.
    Uint32 = 12,
    /// u64.
    Uint64 = 13,
}

impl TensorProto {
    /// The values of an integer (`INT64`, `INT32`) or string constant, as text (`"0"`,
    /// `"yes"`): how exporters write a classifier's list of classes. `None` for others.
    pub fn values_as_text(&self) -> Option<Vec<String>> {
        let raw = !self.raw_data.is_empty();
        let ints: Vec<i64> = match DataType::try_from(self.data_type).ok()? {
            DataType::String => {
                return Some(
                    self.string_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect(),
                );
            }
            DataType::Int64 if raw => self
                .raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
            DataType::Int64 => self.int64_data.clone(),
            DataType::Int32 if raw => self
                .raw_data
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")).into())
                .collect(),
            DataType::Int32 => self.int32_data.iter().map(|&v| v.into()).collect(),
            _ => return None,
        };
        Some(ints.iter().map(i64::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_constants_read_from_raw_data_and_typed_fields_alike() {
        let raw = TensorProto {
            data_type: DataType::Int64 as i32,
            raw_data: [3i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..TensorProto::default()
        };
        assert_eq!(raw.values_as_text().unwrap(), ["3", "-1"]);
        let typed = TensorProto {
            data_type: DataType::Int32 as i32,
            int32_data: vec![7, -2],
            ..TensorProto::default()
        };
        assert_eq!(typed.values_as_text().unwrap(), ["7", "-2"]);
        let floats = TensorProto {
            data_type: DataType::Float as i32,
            ..TensorProto::default()
        };
        assert_eq!(floats.values_as_text(), None);
    }

    #[test]
    fn a_model_round_trips_through_the_subset() {
        let model = ModelProto {
            producer_name: "skl2onnx".into(),
            producer_version: "1.20.0".into(),
            graph: Some(GraphProto {
                node: vec![NodeProto {
                    op_type: "LinearClassifier".into(),
                    attribute: vec![AttributeProto {
                        name: "classlabels_ints".into(),
                        ints: vec![0, 1],
                        ..AttributeProto::default()
                    }],
                    ..NodeProto::default()
                }],
                ..GraphProto::default()
            }),
        };
        let decoded = ModelProto::decode(model.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, model);
    }
}
