// Loads a saved ML.NET model in a fresh process, scores Fashion-MNIST test rows, and writes the Score column as
// raw little-endian floats: the tests compare these bytes with the in-process scores (bit-identical round trip).
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.Core.Data;

if (args.Length != 4) { Console.Error.WriteLine("usage: LoadProbe <model.zip> <rows> <scoreColumn> <out.bin>"); return 2; }
var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
var model = ml.Model.Load(args[0], out _);
var data = FashionMnist.Load(ml, FashionMnistSplit.Test, int.Parse(args[1]));
var scored = model.Transform(data);
using var fs = File.Create(args[3]);
foreach (var v in scored.GetColumn<VBuffer<float>>(args[2]))
    foreach (var f in v.DenseValues()) fs.Write(BitConverter.GetBytes(f));
(model as IDisposable)?.Dispose();
return 0;
