// `make demo`: trains a small 1-D CNN with Adam to tell which of four frequencies a noisy tone has,
// prints the loss curve, saves a safetensors checkpoint to out/, reloads it and checks the accuracy.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>

#include "pianograd.h"

using namespace pianograd;
using namespace pianograd::nn;

namespace {

constexpr int64_t kLength = 64;
constexpr double kFreqs[4] = {3, 5, 8, 12};  // cycles per window

struct Dataset {
  Tensor x;  // [N, 1, L]
  Tensor y;  // i64 [N]
};

// Random amplitude in [0.5, 1.5), random phase, ±0.3 cycles of frequency jitter, Gaussian noise of
// std 0.6: at the smallest amplitude the tone is at 0 dB SNR.
Dataset make_tones(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.6);
  Dataset d{Tensor::empty({n, 1, kLength}), Tensor::empty({n}, DType::i64)};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = static_cast<int64_t>(rng() % 4);
    const double f = kFreqs[c] + 0.6 * (u(rng) - 0.5), a = 0.5 + u(rng), ph = 2 * std::numbers::pi * u(rng);
    for (int64_t t = 0; t < kLength; ++t)
      d.x.data<float>()[i * kLength + t] = static_cast<float>(
          a * std::sin(2 * std::numbers::pi * f * static_cast<double>(t) / kLength + ph) + noise(rng));
    d.y.data<int64_t>()[i] = c;
  }
  return d;
}

std::shared_ptr<Sequential> make_model() {
  Conv1dOptions pad3, pad2;
  pad3.padding = 3;
  pad2.padding = 2;
  return Sequential::make({std::make_shared<Conv1d>(1, 8, 7, pad3), std::make_shared<ReLU>(),
                           std::make_shared<MaxPool1d>(2), std::make_shared<Conv1d>(8, 16, 5, pad2),
                           std::make_shared<ReLU>(), std::make_shared<MaxPool1d>(2),
                           std::make_shared<GlobalAvgPool>(), std::make_shared<Linear>(16, 4)});
}

double accuracy(Module& model, const Dataset& d) {
  NoGrad ng;
  model.eval();
  const Tensor pred = argmax(model.forward(d.x), 1);
  model.train();
  int64_t ok = 0;
  for (int64_t i = 0; i < pred.numel(); ++i) ok += pred.data<int64_t>()[i] == d.y.data<int64_t>()[i];
  return static_cast<double>(ok) / static_cast<double>(pred.numel());
}

}  // namespace

int main() {
  try {
    const auto t0 = std::chrono::steady_clock::now();
    manual_seed(1);
    const Dataset train = make_tones(2048, 1), test = make_tones(1024, 2);
    auto model = make_model();
    std::printf("pianograd demo: 1-D CNN, which of 4 tones (%g/%g/%g/%g cycles) is in a noisy 64-sample signal\n",
                kFreqs[0], kFreqs[1], kFreqs[2], kFreqs[3]);
    std::printf("%s", model->repr().c_str());

    const int epochs = 15;
    const int64_t batch = 32, steps = train.x.size(0) / batch;
    optim::AdamOptions o;
    o.lr = 1e-2;
    optim::Adam opt(model->parameters(), o);
    optim::WarmupCosineLR sched(o.lr, steps, epochs * steps, o.lr * 0.05);

    std::printf("\n epoch |   loss  | train acc | test acc |  lr      | loss\n");
    std::printf("-------+---------+-----------+----------+----------+------------------------------\n");
    double first_loss = 0;
    for (int e = 1; e <= epochs; ++e) {
      double loss_sum = 0;
      for (int64_t b = 0; b < steps; ++b) {
        const Tensor xb = slice(train.x, 0, b * batch, (b + 1) * batch);
        const Tensor yb = slice(train.y, 0, b * batch, (b + 1) * batch);
        sched.apply(opt);
        opt.zero_grad();
        Tensor loss = cross_entropy(model->forward(xb), yb);
        loss.backward();
        optim::clip_grad_norm(opt.params(), 5.0);
        opt.step();
        loss_sum += loss.item();
      }
      const double loss = loss_sum / static_cast<double>(steps);
      if (e == 1) first_loss = loss;
      const int bar = static_cast<int>(std::lround(30.0 * loss / first_loss));
      std::printf(" %5d | %7.4f | %8.1f%% | %7.1f%% | %.2e | %s\n", e, loss, 100 * accuracy(*model, train),
                  100 * accuracy(*model, test), opt.lr(), std::string(static_cast<size_t>(std::max(bar, 1)), '#').c_str());
    }

    std::filesystem::create_directories("out");
    const std::string path = "out/train_demo.safetensors";
    const double acc = accuracy(*model, test);
    model->save(path, {{"task", "tones4"}, {"test_accuracy", std::to_string(acc)}, {"epochs", std::to_string(epochs)}});
    auto reloaded = make_model();
    reloaded->load(path);
    const double acc_reloaded = accuracy(*reloaded, test);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("\ncheckpoint: %s (%lld parameters, %lld bytes); reloaded model test accuracy %.1f%%\n", path.c_str(),
                static_cast<long long>(model->num_parameters()),
                static_cast<long long>(std::filesystem::file_size(path)), 100 * acc_reloaded);
    std::printf("final test accuracy: %.1f%% on %lld held-out signals (chance 25%%), %.1f s\n", 100 * acc,
                static_cast<long long>(test.x.size(0)), secs);
    return acc_reloaded == acc ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_demo: %s\n", e.what());
    return 1;
  }
}
