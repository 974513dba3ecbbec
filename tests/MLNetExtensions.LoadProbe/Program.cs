// Loads a saved ML.NET model in a fresh process, scores test rows, and writes the Score column as raw little-endian
// floats: the tests compare these bytes with the in-process scores. Data: Fashion-MNIST test images (default) or,
// with "scenes", the first rows of the Fashion-MNIST test-split scenes (Seed 2, items from the first 500 test images),
// the held-out scenes of the segmentation tests, or with "binary:<file>" an IDataView saved by ml.Data.SaveAsBinary
// (the contract tests' data round trip).
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Transforms.Datasets;

if (args.Length is not (4 or 5) || (args.Length == 5 && args[4] is not ("fashion" or "scenes") && !args[4].StartsWith("binary:", StringComparison.Ordinal)))
{
    Console.Error.WriteLine("usage: LoadProbe <model.zip> <rows> <scoreColumn> <out.bin> [fashion|scenes|binary:<file.idv>]");
    return 2;
}
var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
var model = ml.Model.Load(args[0], out _);
int rows = int.Parse(args[1]);
var data = args.Length == 5 && args[4].StartsWith("binary:", StringComparison.Ordinal)
    ? ml.Data.TakeRows(ml.Data.LoadFromBinary(args[4]["binary:".Length..]), rows)
    : args.Length == 5 && args[4] == "scenes"
    ? FashionScenes.Load(ml, new FashionSceneOptions { Count = rows, Seed = 2, Split = FashionMnistSplit.Test, SourceRows = 500 })
    : FashionMnist.Load(ml, FashionMnistSplit.Test, rows);
var scored = model.Transform(data);
using var fs = File.Create(args[3]);
if (scored.Schema[args[2]].Type is NumberDataViewType) // a scalar Score (reward models)
    foreach (var f in scored.GetColumn<float>(args[2])) fs.Write(BitConverter.GetBytes(f));
else
    foreach (var v in scored.GetColumn<VBuffer<float>>(args[2]))
        foreach (var f in v.DenseValues()) fs.Write(BitConverter.GetBytes(f));
(model as IDisposable)?.Dispose();
return 0;
