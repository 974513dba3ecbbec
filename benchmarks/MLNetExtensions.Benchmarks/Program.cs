using System.Diagnostics;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using static TorchSharp.torch;

torch.set_num_threads(1);
if (args.Length > 0 && args[0] == "ssa") { MLNetExtensions.Benchmarks.SsaBenchmark.Run(args[1..]); return; }
var variant = args.Length > 0 ? args[0] : "Tiny";
int batch = 64, size = 64;
torch.manual_seed(0);
using var model = new TinyViMModel(TinyViMConfig.Named(variant), 10, false);
model.eval();
using var nog = torch.no_grad();
var x = torch.randn(batch, 3, size, size);
for (int r = 0; r < 3; r++)
{
    var sw = Stopwatch.StartNew();
    var h = model.PatchEmbed.call(x);
    Console.Write($"stem {sw.ElapsedMilliseconds} ");
    for (int i = 0; i < model.Network.Count; i++)
    {
        sw.Restart();
        if (model.Network[i] is TorchSharp.Modules.Sequential seq)
        {
            int j = 0;
            foreach (var m in seq.children())
            {
                var sw2 = Stopwatch.StartNew();
                h = ((nn.Module<Tensor, Tensor>)m).call(h);
                Console.Write($"[{i}.{j++} {m.GetType().Name} {sw2.ElapsedMilliseconds}] ");
            }
        }
        else h = model.Network[i].call(h);
        Console.Write($"net{i} {sw.ElapsedMilliseconds} ");
    }
    Console.WriteLine();
}
