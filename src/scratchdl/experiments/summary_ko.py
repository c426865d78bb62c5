"""Korean for the sweeps' summary.md, in the terms of :mod:`scratchdl.plots.glossary`.

:data:`SENTENCES` maps each English sentence template of a sweep's summary to its Korean, with
the same ``{name:spec}`` fields, so the numbers and the findings stored in ``results.json``
(which keep the English template) are the same in both languages. A ``<*>`` in an English key
stands for a part the sweep builds (a verdict, a group name); ``<1>``, ``<2>`` in the Korean put
that part back, itself in Korean (:func:`word`). A template with no Korean stays English.
"""

from __future__ import annotations

import re

from scratchdl.plots.glossary import TERMS
from scratchdl.plots.ko_text import compile_patterns, lookup, translate

__all__ = ["SENTENCES", "WORDS", "sentence", "word"]

_NOISE = TERMS["seed noise"]

SENTENCES: dict[str, str] = {
    # -- lr --------------------------------------------------------------------------------------
    "Setup: {hidden} hidden units, {activation} with init {init}, {optimizer}, batch {batch}, "
    "{budget} per run, {seeds} per rate. Accuracy on the full test set (mean ± std over seeds); "
    "training loss on the learning curve's fixed training subsample.": "설정: 은닉층 뉴런 "
    "{hidden}개, {activation}(가중치 초깃값 {init}), {optimizer}, 배치 {batch}, 실행마다 {budget}, "
    "학습률마다 {seeds}. 정확도는 시험 데이터 전체에서 잰 값(시드에 대한 평균 ± 표준편차), 훈련 "
    "손실은 학습 곡선용으로 고정한 훈련 표본에서 잰 값입니다.",
    "No rate learned in {budget}: the best test accuracy was {acc:pm}.": "{budget} 동안 학습된 "
    "학습률이 없습니다: 가장 높은 시험 정확도는 {acc:pm}입니다.",
    "Best in {budget}: lr {lr} reached {acc:pm} test accuracy (training loss {start:loss} -> "
    "{end:loss}).": "{budget} 동안 가장 좋은 학습률: lr {lr}, 시험 정확도 {acc:pm} (훈련 손실 "
    "{start:loss} -> {end:loss}).",
    "Runner-up in {budget}: lr {lr} with {acc:pm}; <*>.": "{budget} 동안 두 번째: lr {lr}, "
    "{acc:pm}; <1>.",
    "lr {lr} <*> (test accuracy {acc:pm}, chance {chance:acc}).": "lr {lr}: <1> (시험 정확도 "
    "{acc:pm}, 무작위 추측 {chance:acc}).",
    "After {budget}, lr {lr} had a higher training loss than it started ({start:loss} -> "
    "{end:loss}).": "{budget} 뒤 lr {lr}의 훈련 손실은 시작할 때보다 높았습니다 ({start:loss} -> "
    "{end:loss}).",
    "Smallest: in {budget} lr {lr} moved the training loss {start:loss} -> {end:loss} (down "
    "{drop}%, against down {best_drop}% for lr {best_lr}).": "가장 작은 학습률: {budget} 동안 "
    "lr {lr}의 훈련 손실은 {start:loss} -> {end:loss} ({drop}% 감소; lr {best_lr}은 {best_drop}% "
    "감소).",
    "Smallest: in {budget} lr {lr} moved the training loss {start:loss} -> {end:loss} (up "
    "{rise}%, against down {best_drop}% for lr {best_lr}).": "가장 작은 학습률: {budget} 동안 "
    "lr {lr}의 훈련 손실은 {start:loss} -> {end:loss} ({rise}% 증가; lr {best_lr}은 {best_drop}% "
    "감소).",
    # -- optimizer -------------------------------------------------------------------------------
    "Setup: hidden layers {hidden} ({layers} hidden layers; the book's code has {book} of "
    "{book_width}, which its text calls a {book_depth}-layer net), {activation} with init {init}, "
    "batch {batch} {drawn}, {budget} per run, {seeds} per optimizer, learning rates as in the "
    "table ({lr_note}). Training loss on the full training set after the last update, test "
    "accuracy on the full test set (mean ± std over seeds).": "설정: 은닉층 {hidden} (은닉층 "
    "{layers}개; 책의 코드는 뉴런 {book_width}개짜리 은닉층 {book}개로, 본문에서는 "
    "{book_depth}층 신경망이라고 부릅니다), {activation}(가중치 초깃값 {init}), 배치 {batch}"
    "({drawn}), 실행마다 {budget}, 옵티마이저마다 {seeds}, 학습률은 표와 같음({lr_note}). 훈련 "
    "손실은 마지막 갱신 뒤 훈련 데이터 전체에서, 시험 정확도는 시험 데이터 전체에서 잰 값"
    "(시드에 대한 평균 ± 표준편차)입니다.",
    "Lowest mean training loss after {budget}: {best} ({best_loss:losspm}); {than} {second} "
    "({second_loss:losspm}). Highest: {worst} ({worst_loss:losspm}).": "{budget} 뒤 평균 훈련 "
    "손실이 가장 낮은 옵티마이저: {best} ({best_loss:losspm}); {second} ({second_loss:losspm})"
    "와 비교하면 {than}. 가장 높은 것: {worst} ({worst_loss:losspm}).",
    "Ranking by training loss after {budget}, lowest first: {ranking} ('<': lower by more than "
    "the seed noise, '≈': within it; neighbours compared).": "{budget} 뒤 훈련 손실 순위, 낮은 "
    f"것부터: {{ranking}} ('<': {_NOISE}보다 더 낮음, '≈': 편차 범위 안; 이웃끼리 비교).",
    "Test accuracy after {budget}: highest {top} ({top_acc:pm}), lowest {low} ({low_acc:pm}); "
    "{gap}.": "{budget} 뒤 시험 정확도: 가장 높은 것 {top} ({top_acc:pm}), 가장 낮은 것 {low} "
    "({low_acc:pm}); {gap}.",
    "The book finds SGD slowest (ch. 6.1.8), {word} in {budget} at these learning rates: SGD's "
    "training loss was {comparisons:list} ('higher'/'lower': by more than the seed noise).": "책은 "
    "SGD가 가장 느리다고 합니다(ch. 6.1.8). 이 학습률로 {budget} 동안 돌린 결과: {word}. SGD의 "
    f"훈련 손실은 {{comparisons:list}} ('높음'/'낮음': {_NOISE}보다 큼).",
    # -- init ------------------------------------------------------------------------------------
    "Setup: hidden layers {hidden} (the book's code has {book} of {book_width}, which its text "
    "calls a {book_depth}-layer net), {optimizer} lr {lr}, batch {batch} {drawn}, {budget} per "
    "run, {seeds} per variant. Test accuracy on the full test set and training loss on the "
    "learning curve's fixed training subsample (mean ± std over seeds); activation statistics "
    "of each hidden layer on {images} fixed training images (mean over seeds).": "설정: 은닉층 "
    "{hidden} (책의 코드는 뉴런 {book_width}개짜리 은닉층 {book}개로, 본문에서는 {book_depth}층 "
    "신경망이라고 부릅니다), {optimizer} lr {lr}, 배치 {batch}({drawn}), 실행마다 {budget}, "
    "설정마다 {seeds}. 시험 정확도는 시험 데이터 전체에서, 훈련 손실은 학습 곡선용으로 고정한 "
    "훈련 표본에서 잰 값(시드에 대한 평균 ± 표준편차)이고, 은닉층마다의 활성화 값 통계는 고정한 "
    "훈련 이미지 {images}장에서 잰 값(시드에 대한 평균)입니다.",
    "{name} <*>; test accuracy {acc:pm} (chance {chance:acc}), training loss {start:loss} -> "
    "{end:loss}.": "{name}: <1>; 시험 정확도 {acc:pm} (무작위 추측 {chance:acc}), 훈련 손실 "
    "{start:loss} -> {end:loss}.",
    "Lowest full-training-set loss after {budget}: {best} ({best_loss:losspm}), then {second} "
    "({second_loss:losspm}); {gap}.": "{budget} 뒤 훈련 데이터 전체의 손실이 가장 낮은 것: "
    "{best} ({best_loss:losspm}), 다음은 {second} ({second_loss:losspm}); {gap}.",
    "At initialisation (update 0), {name}: output std of hidden layers 1-{n} {stds:sigs}; <*>; "
    "weight-gradient RMS {g_first:sig} for W1, {g_last:sig} for W{n_w} (W1's {g_share:sig} "
    "times W{n_w}'s).": "초기 상태(갱신 0번)에서 {name}: 은닉층 1-{n}의 출력 표준편차 "
    "{stds:sigs}; <1>; 가중치 기울기의 RMS는 W1에서 {g_first:sig}, W{n_w}에서 {g_last:sig} (W1의 "
    "값이 W{n_w}의 {g_share:sig}배).",
    "After {budget}, {name}: output std by layer {stds:sigs}; <*>.": "{budget} 뒤 {name}: 층별 "
    "출력 표준편차 {stds:sigs}; <1>.",
    "'Did not train' means the training loss of the last quarter of the {budget} was no lower "
    "than that of the quarter before; a deep net's plateau can still end later, which only a "
    "longer run (--iters) shows.": "'학습되지 않음'은 {budget}의 마지막 사분의 일 동안의 훈련 "
    "손실이 그 앞 사분의 일보다 낮지 않았다는 뜻입니다. 깊은 신경망의 정체 구간은 나중에 끝날 수도 "
    "있고, 그것은 더 긴 실행(--iters)만 보여 줍니다.",
    "The book (ch. 6.2.4) finds that with ReLU std 0.01 does not learn at all and He learns "
    "faster than Xavier. Here, in {budget}: relu+0.01 <*> (verdict above); relu+he reached a "
    "full-training-set loss of {he:losspm} against {xavier:losspm} for relu+xavier; {gap}.": "책"
    "(ch. 6.2.4)은 ReLU에서 std 0.01은 전혀 학습되지 않고 He가 Xavier보다 빨리 학습된다고 "
    "합니다. 여기서 {budget} 동안: relu+0.01은 <1> (위의 판정), relu+he의 훈련 데이터 전체 손실은 "
    "{he:losspm}, relu+xavier는 {xavier:losspm}; {gap}.",
    # -- batchnorm -------------------------------------------------------------------------------
    "Setup: {hidden} hidden units, {activation}, {optimizer} lr {lr}, batch {batch} ({sampling}), "
    "on the first {n_train} training images, {budget} per run, {seeds}, with and without "
    "BatchNorm at {n} initial weight scales W (the std of every weight matrix). Training accuracy "
    "on all {n_train} training images, as the book plots it.": "설정: 은닉층 뉴런 {hidden}개, "
    "{activation}, {optimizer} lr {lr}, 배치 {batch}({sampling}), 훈련 이미지 앞의 {n_train}장, "
    "실행마다 {budget}, {seeds}, 가중치 크기 W(모든 가중치 행렬의 표준편차) {n}가지에서 배치 "
    "정규화(BatchNorm)를 쓸 때와 안 쓸 때. 훈련 정확도는 책의 그림처럼 훈련 이미지 {n_train}장 "
    "전체에서 잰 값입니다.",
    "In {budget}, BN ended with a higher training accuracy than without by more than the seed "
    "noise at {ahead} of the {n} scales, within the noise at {within} (W = {within_w:list}).": ""
    "{budget} 동안 BN을 쓴 쪽의 최종 훈련 정확도가 안 쓴 쪽보다 시드에 따른 편차 이상으로 높았던 "
    "가중치 크기는 {n}가지 중 {ahead}가지, 편차 범위 안이었던 것은 {within}가지 "
    "(W = {within_w:list}).",
    "In {budget}, BN ended with a higher training accuracy than without by more than the seed "
    "noise at {ahead} of the {n} scales.": "{budget} 동안 BN을 쓴 쪽의 최종 훈련 정확도가 안 쓴 "
    "쪽보다 시드에 따른 편차 이상으로 높았던 가중치 크기는 {n}가지 중 {ahead}가지.",
    "After {early} (a quarter of {budget}), BN was ahead by more than the seed noise at {ahead} "
    "of the {n} scales and behind at {behind}.": "{early} 뒤(전체 {budget}의 사분의 일), BN을 쓴 "
    "쪽이 시드에 따른 편차 이상으로 앞선 가중치 크기는 {n}가지 중 {ahead}가지, 뒤진 것은 "
    "{behind}가지.",
    "In {budget}, with BN, the final training accuracy over the {n} scales ranged from {low:acc} "
    "to {high:acc}.": "{budget} 동안 BN을 쓸 때, 가중치 크기 {n}가지의 최종 훈련 정확도는 "
    "{low:acc}에서 {high:acc}까지.",
    "In {budget}, without BN, the final training accuracy over the {n} scales ranged from "
    "{low:acc} to {high:acc}.": "{budget} 동안 BN을 안 쓸 때, 가중치 크기 {n}가지의 최종 훈련 "
    "정확도는 {low:acc}에서 {high:acc}까지.",
    "With BN, W = {scales:list}: <*>; its training loss fell by at most {fall:sig}.": "BN을 쓸 "
    "때 W = {scales:list}: <1>; 훈련 손실은 많아야 {fall:sig}만큼 줄었습니다.",
    "Without BN, W = {scales:list}: <*>; its training loss fell by at most {fall:sig}.": "BN을 안 "
    "쓸 때 W = {scales:list}: <1>; 훈련 손실은 많아야 {fall:sig}만큼 줄었습니다.",
    "BN learns faster and depends less on the initial weight scale. Measured in {budget} on "
    "{n_train} images: with BN the net learned at {bn_learned} of {n} scales, without at "
    "{plain_learned}; BN ended ahead by more than the seed noise at {ahead} and was ahead after "
    "{early} at {early_ahead}: the numbers support it only at the scales where BN was ahead.": ""
    "배치 정규화를 쓰면 학습이 빠르고 가중치 초깃값의 크기에 덜 민감하다. {budget} 동안 이미지 "
    "{n_train}장으로 잰 결과: BN을 쓸 때는 가중치 크기 {n}가지 중 {bn_learned}가지에서 학습됐고, "
    "안 쓸 때는 {plain_learned}가지; BN이 끝에 시드에 따른 편차 이상으로 앞선 것은 {ahead}가지, "
    "{early} 뒤에 앞선 것은 {early_ahead}가지: 수치는 BN이 앞선 가중치 크기에서만 이 주장을 "
    "뒷받침합니다.",
    # -- overfit ---------------------------------------------------------------------------------
    "Setup: {hidden} hidden units, {activation}, init {init}, {optimizer} lr {lr}, batch {batch} "
    "({sampling}), on the first {n_train} training images, {seeds} per group. Every group trains "
    "for {budget} (the book runs {book_wd} epochs for weight decay and {book_do} for Dropout; one "
    "budget keeps the comparison fair: more epochs would favour whichever group gets them). "
    "Accuracy on all {n_train} training images and the full test set of {n_test}; gap = train - "
    "test, mean ± std over seeds.": "설정: 은닉층 뉴런 {hidden}개, {activation}, 가중치 초깃값 "
    "{init}, {optimizer} lr {lr}, 배치 {batch}({sampling}), 훈련 이미지 앞의 {n_train}장, "
    "그룹마다 {seeds}. 모든 그룹이 {budget} 동안 학습합니다(책은 가중치 감소에 {book_wd}에폭, "
    "드롭아웃에 {book_do}에폭을 씁니다. 예산이 같아야 비교가 공정합니다: 에폭을 더 받는 그룹이 "
    "유리해지니까요). 정확도는 훈련 이미지 {n_train}장 전체와 시험 데이터 {n_test}장 전체에서 "
    "잰 값이고, 차이 = 훈련 - 시험, 시드에 대한 평균 ± 표준편차입니다.",
    "In {budget}, <*>: train {train:pm}, test {test:pm}, gap {gap:pm}.": "{budget} 동안 <1>: "
    "훈련 {train:pm}, 시험 {test:pm}, 차이 {gap:pm}.",
    "The <*> group <*>.": "<1> 그룹: <2>.",
    "The training accuracy of <*> was still rising at the end of {budget} ({before:acc} at three "
    "quarters of the run, {end:acc} at the end): its gap and test accuracy are those of an "
    "unfinished run; try more epochs (--epochs).": "<1>의 훈련 정확도는 {budget}이 끝날 때도 "
    "오르는 중이었습니다(실행의 사분의 삼 지점에서 {before:acc}, 끝에서 {end:acc}): 이 차이와 "
    "시험 정확도는 끝나지 않은 실행의 값입니다. 에폭을 늘려 보세요(--epochs).",
    # -- hyperparams -----------------------------------------------------------------------------
    "Setup: {draws} random draws (draw seed {draw_seed}) of lr log-uniform between {lr_lo} and "
    "{lr_hi} and weight decay between {wd_lo} and {wd_hi}. Each trains {hidden} hidden units, "
    "{activation}, init {init}, {optimizer}, batch {batch} ({sampling}) for {budget} on {n_fit} "
    "of the first {n_search} training images and is measured on the other {n_val}, a validation "
    "split: the search never touches the test set. {seeds} per draw: every draw starts from the "
    "same weights and batches, so draws differ only in lr and weight decay.": "설정: 무작위 추출 "
    "{draws}번(추출 시드 {draw_seed}), lr은 {lr_lo}에서 {lr_hi} 사이, 가중치 감소는 {wd_lo}에서 "
    "{wd_hi} 사이에서 로그 균등하게 뽑습니다. 각각 은닉층 뉴런 {hidden}개, {activation}, 가중치 "
    "초깃값 {init}, {optimizer}, 배치 {batch}({sampling})로 훈련 이미지 앞의 {n_search}장 중 "
    "{n_fit}장에서 {budget} 동안 학습하고, 나머지 {n_val}장(검증 데이터)으로 잽니다: 탐색은 시험 "
    "데이터를 건드리지 않습니다. 추출마다 {seeds}: 모든 추출이 같은 가중치와 배치에서 시작하므로 "
    "추출끼리는 lr과 가중치 감소만 다릅니다.",
    "Best in {budget}: draw {draw}, lr {lr}, weight decay {wd}: validation accuracy {val:pm} "
    "(training accuracy {train:pm}).": "{budget} 동안 가장 좋은 추출: {draw}번, lr {lr}, 가중치 "
    "감소 {wd}: 검증 정확도 {val:pm} (훈련 정확도 {train:pm}).",
    "The best {k} of {draws} draws in {budget} (validation accuracy {low:acc} to {high:acc}) had "
    "lr from {lr_lo} to {lr_hi} ({lr_span:sig} of the {lr_all:sig} decades searched) and weight "
    "decay from {wd_lo} to {wd_hi} ({wd_span:sig} of {wd_all:sig} decades).": "{budget} 동안 "
    "{draws}번의 추출 중 가장 좋은 {k}개(검증 정확도 {low:acc}에서 {high:acc})의 lr은 {lr_lo}에서 "
    "{lr_hi} (탐색한 {lr_all:sig}자릿수 중 {lr_span:sig}자릿수), 가중치 감소는 {wd_lo}에서 "
    "{wd_hi} ({wd_all:sig}자릿수 중 {wd_span:sig}자릿수).",
    "In {budget}, the best {k} reach within a tenth of the searched decades of the upper end of "
    "the lr range, {edge}: the best lr may lie beyond it; widen --lr-range.": "{budget} 동안 가장 "
    "좋은 {k}개가 lr 범위의 위쪽 끝({edge})에 탐색한 자릿수의 십분의 일 이내로 다가갑니다: 가장 "
    "좋은 lr은 그 너머에 있을 수 있습니다. --lr-range를 넓혀 보세요.",
    "In {budget}, the best {k} reach within a tenth of the searched decades of the lower end of "
    "the lr range, {edge}: the best lr may lie beyond it; widen --lr-range.": "{budget} 동안 가장 "
    "좋은 {k}개가 lr 범위의 아래쪽 끝({edge})에 탐색한 자릿수의 십분의 일 이내로 다가갑니다: 가장 "
    "좋은 lr은 그 너머에 있을 수 있습니다. --lr-range를 넓혀 보세요.",
    "One seed per draw, so the seed noise is unknown, and on {n_val} validation images one image "
    "is {step:acc} of accuracy: draws a few images apart ({ties}) are not ranked beyond doubt in "
    "{budget}.": "추출마다 시드가 하나라 시드에 따른 편차를 알 수 없고, 검증 이미지 {n_val}장에서는 "
    "이미지 한 장이 정확도 {step:acc}입니다: 이미지 몇 장 차이인 추출들({ties})은 {budget} 동안의 "
    "결과로 확실히 순위를 매길 수 없습니다.",
    "{count} of {draws} draws (lr {lr_lo} to {lr_hi}): each <*>.": "추출 {draws}번 중 {count}번"
    "(lr {lr_lo}에서 {lr_hi}): 모두 <1>.",
    "Draw {draw}'s lr {lr} and weight decay {wd}, trained on all {n_full} training images for "
    "{rerun_budget} ({seeds}) and measured on the {n_test} test images: test accuracy {test:pm}, "
    "training accuracy {train:pm}.": "{draw}번 추출의 lr {lr}과 가중치 감소 {wd}로 훈련 이미지 "
    "{n_full}장 전체에서 {rerun_budget} 동안 학습하고({seeds}) 시험 이미지 {n_test}장에서 잰 "
    "결과: 시험 정확도 {test:pm}, 훈련 정확도 {train:pm}.",
}

#: Titles, questions, headings, table headers and the words that fill sentences.
WORDS: dict[str, str] = {
    **{term: TERMS[term] for term in ("optimizer", "weight decay", "batch")},
    # titles and questions
    "Learning rate": "학습률",
    "Which learning rate trains this net, and what happens when it is too large or small?": ""
    "어떤 학습률로 이 신경망이 학습되고, 너무 크거나 작으면 어떻게 되나?",
    "Optimizers (ch. 6.1.8)": "옵티마이저 (ch. 6.1.8)",
    "Which of SGD, Momentum, AdaGrad, RMSprop, Adam and Nesterov lowers the training loss "
    "fastest, and by more than the seed noise?": "SGD, Momentum, AdaGrad, RMSprop, Adam, Nesterov "
    "중 어느 것이 훈련 손실을 가장 빨리, 시드에 따른 편차보다 크게 줄이나?",
    "Initial weights (ch. 6.2)": "가중치 초깃값 (ch. 6.2)",
    "Which initial weights let the deep net train, and what do its activations show?": "어떤 "
    "가중치 초깃값이어야 깊은 신경망이 학습되고, 활성화 값은 무엇을 보여 주나?",
    "Batch Normalization against the initial weight scale": "가중치 초깃값의 크기에 따른 배치 정규화",
    "Does Batch Normalization train faster and depend less on the initial weight scale?": "배치 "
    "정규화를 쓰면 더 빨리 학습되고 가중치 초깃값의 크기에 덜 민감한가?",
    "Overfitting, weight decay and Dropout": "오버피팅, 가중치 감소, 드롭아웃",
    "How far apart do training and test accuracy grow on a small training set, and how much do "
    "weight decay and Dropout close the gap?": "작은 훈련 데이터에서 훈련 정확도와 시험 정확도는 "
    "얼마나 벌어지고, 가중치 감소와 드롭아웃은 그 차이를 얼마나 좁히나?",
    "Random search of learning rate and weight decay": "학습률과 가중치 감소의 무작위 탐색",
    "Which learning rates and weight decays train this net best, judged on validation data?": ""
    "검증 데이터로 판단할 때 어떤 학습률과 가중치 감소가 이 신경망을 가장 잘 학습시키나?",
    # headings
    "Findings": "결과",
    "All rates": "모든 학습률",
    "All optimizers": "모든 옵티마이저",
    "All variants": "모든 설정",
    "Every scale": "모든 가중치 크기",
    "What the activations show": "활성화 값이 보여 주는 것",
    "Which initial weights trained": "어떤 가중치 초깃값으로 학습됐나",
    "The book's claim (ch. 6.3.2)": "책의 주장 (ch. 6.3.2)",
    "The best values re-run on the full set": "가장 좋은 값으로 전체 데이터에서 다시 실행",
    "Not run (--no-rerun).": "실행하지 않음 (--no-rerun).",
    # table headers
    "training loss start -> end": "훈련 손실 시작 -> 끝",
    "diverged seeds": "발산한 시드",
    "variant": "설정",
    "activation": "활성화 함수",
    "init": "초깃값",
    "group": "그룹",
    "rank": "순위",
    "draw": "추출",
    "validation acc": "검증 정확도",
    "training acc": "훈련 정확도",
    "train acc, no BN": "훈련 정확도, BN 없음",
    "test acc, BN": "시험 정확도, BN",
    "test acc, no BN": "시험 정확도, BN 없음",
    "BN vs no BN": "BN 대 BN 없음",
    # values: verdicts, comparisons, sampling
    "learned": "학습됨",
    "learning": "학습 중",
    "stalled": "학습 안 됨",
    "diverged": "발산",
    "had not learned yet": "아직 학습하지 못함",
    "did not train": "학습되지 않음",
    "ahead": "앞섬",
    "behind": "뒤짐",
    "within noise": "편차 범위 안",
    "replacement": "복원 추출",
    "shuffle": "섞어서 한 바퀴씩",
    "drawn with replacement": "복원 추출",
    "shuffled": "섞어서 한 바퀴씩",
    "each optimizer's book rate": "옵티마이저마다 책의 학습률",
    "lower than": f"{_NOISE}보다 더 낮음",
    "higher than": f"{_NOISE}보다 더 높음",
    "within the seed noise of": f"{_NOISE} 범위 안",
    "(one seed) lower than": "더 낮음 (시드 하나)",
    "(one seed) higher than": "더 높음 (시드 하나)",
    "confirmed": "확인됨",
    "not confirmed": "확인되지 않음",
    "not shown by these runs": "이 실행들로는 보이지 않음",
    "only partly shown": "일부만 보임",
    "not testable against the seed noise with one seed": f"시드가 하나라 {_NOISE}와 견줄 수 없음",
    "the gap is more than the seed noise": f"차이는 {_NOISE}보다 큼",
    "the gap is within the seed noise": f"차이는 {_NOISE} 범위 안",
    "one seed only, so the seed noise is unknown": f"시드가 하나뿐이라 {_NOISE}를 알 수 없음",
    "more than the seed noise": f"{_NOISE}보다 큼",
    "within the seed noise": f"{_NOISE} 범위 안",
    "only the best has its accuracy": "가장 좋은 추출만 그 정확도",
    # overfit clauses
    "shrank the gap by more than the seed noise": f"차이를 {_NOISE} 이상으로 좁힘",
    "widened the gap by more than the seed noise": f"차이를 {_NOISE} 이상으로 넓힘",
    "changed the gap by no more than the seed noise": f"차이를 {_NOISE} 이상으로 바꾸지 못함",
    "changed the gap (one seed only, so the seed noise is unknown)": "차이가 바뀜 (시드가 하나뿐이라 "
    f"{_NOISE}를 알 수 없음)",
    "it cost test accuracy, more than the seed noise": f"시험 정확도가 {_NOISE} 이상으로 떨어짐",
    "it raised test accuracy, by more than the seed noise": f"시험 정확도가 {_NOISE} 이상으로 오름",
    "test accuracy moved within the seed noise": f"시험 정확도는 {_NOISE} 범위 안에서 움직임",
    "test accuracy moved (noise unknown)": "시험 정확도가 움직임 (편차는 알 수 없음)",
    # init clauses
    "every layer concentrated near 0.5 (means {means:sigs})": "모든 층이 0.5 근처에 몰림 "
    "(평균 {means:sigs})",
    "saturated: share of outputs within 0.1 of 0 or 1 by layer {edge:sigs}": "포화: 0이나 1에서 "
    "0.1 안에 있는 출력의 비율, 층별로 {edge:sigs}",
    "shrinking layer by layer (each std {steps:sigs} times the one before)": "층마다 줄어듦 "
    "(표준편차가 앞 층의 {steps:sigs}배)",
    "growing layer by layer (each std {steps:sigs} times the one before)": "층마다 커짐 "
    "(표준편차가 앞 층의 {steps:sigs}배)",
    "kept its spread (last layer's std {ratio:sig} times the first's)": "퍼짐을 유지함 (마지막 "
    "층의 표준편차가 첫 층의 {ratio:sig}배)",
    "no steady trend (last layer's std {ratio:sig} times the first's)": "일정한 경향 없음 "
    "(마지막 층의 표준편차가 첫 층의 {ratio:sig}배)",
    # verdict advice
    "try more epochs (--epochs)": "에폭을 늘려 보세요(--epochs)",
    "try more updates (--iters)": "갱신 횟수를 늘려 보세요(--iters)",
    "try more epochs": "에폭을 늘려 보세요",
}

#: (regular expression over the whole text, Korean template of its translated groups).
WORD_PATTERNS: tuple[tuple[str, str], ...] = (
    # budgets and seed counts
    (r"(\d+) updates?", "갱신 {0}번"),
    (r"(\d+) seeds?", "시드 {0}개"),
    (r"in (.+)", "{0} 동안"),
    (r"training loss after (.+)", "{0} 뒤 훈련 손실"),
    (r"The best (\d+) draws", "가장 좋은 추출 {0}개"),
    (r"(\d+) share the best accuracy", "{0}개가 가장 높은 정확도를 나눠 가짐"),
    # verdict phrases (scratchdl.train.verdict)
    (r"learned in (.+)", "{0} 동안 학습됨"),
    (
        r"had not learned yet in (.+), too short to tell whether its loss is still falling: (.+)",
        "{0} 동안 아직 학습하지 못함, 손실이 아직 줄어드는지 알기에는 너무 짧음: {1}",
    ),
    (
        r"had not learned yet in (.+), loss still falling: (.+)",
        "{0} 동안 아직 학습하지 못함, 손실은 아직 줄어드는 중: {1}",
    ),
    (
        r"had barely begun to learn in (.+): above chance, but its loss fell only (.+): (.+)",
        "{0} 동안 이제 막 학습을 시작함: 무작위 추측보다는 높지만 손실은 {1}만 줄었음: {2}",
    ),
    (r"did not train in (.+): its loss went up", "{0} 동안 학습되지 않음: 손실이 올라감"),
    (r"did not train in (.+): its loss did not fall", "{0} 동안 학습되지 않음: 손실이 줄지 않음"),
    (
        r"did not train in (.+): its loss stopped falling",
        "{0} 동안 학습되지 않음: 손실이 더 줄지 않음",
    ),
    (
        r"diverged in (.+) \(its loss became infinite or NaN\)",
        "{0} 동안 발산함 (손실이 무한대나 NaN이 됨)",
    ),
    (r"\(one seed\) (higher|lower) than that of (.+)", "{1}보다 {0} (시드 하나)"),
    (r"(higher|lower) than that of (.+)", "{1}보다 {0}"),
    (r"within the seed noise of that of (.+)", "{0}와 시드에 따른 편차 범위 안"),
    (r"higher", "높음"),
    (r"lower", "낮음"),
    (r"no BN in (.+)", "BN 없음, {0} 동안"),
    (r"BN in (.+)", "BN, {0} 동안"),
)

# overfit: "In {budget}, <group> <effect on the gap> (...); <effect on test accuracy> (...)."
for _effect in (
    "shrank the gap by more than the seed noise",
    "widened the gap by more than the seed noise",
    "changed the gap by no more than the seed noise",
    "changed the gap (one seed only, so the seed noise is unknown)",
):
    SENTENCES[
        "In {budget}, <*> " + _effect + " ({base_gap:pm} -> {gap:pm}); <*> ({base_test:pm} -> "
        "{test:pm})."
    ] = (
        "{budget} 동안 <1>: "
        + WORDS[_effect]
        + " ({base_gap:pm} -> {gap:pm}); <2> ({base_test:pm} -> {test:pm})."
    )

# -- batch-size (generated: the summary builds each sentence from parts) ------------------------
_TIED_IS = "; {tied:list} is within the seed noise of the fastest."
_TIED_ARE = "; {tied:list} are within the seed noise of the fastest."
for _scaled, _scaled_ko in (
    ("", ""),
    (" at batch {reference}, scaled {scaling}", " (배치 {reference}에서의 값, {scaling}로 조정)"),
):
    SENTENCES[
        "Setup: hidden layers {hidden}, {activation} with init {init}, {optimizer} with lr {lr}"
        + _scaled
        + "; {budget} per run, {seeds} per batch size. Test accuracy on the full test set (mean "
        "± std over seeds); times count training only (evaluation excluded), one BLAS thread per "
        "run, on this machine."
    ] = (
        "설정: 은닉층 {hidden}, {activation}(가중치 초깃값 {init}), {optimizer} lr {lr}"
        + _scaled_ko
        + ", 실행마다 {budget}, 배치 크기마다 {seeds}. 시험 정확도는 시험 데이터 전체에서 잰 "
        "값(시드에 대한 평균 ± 표준편차)이고, 시간은 평가를 빼고 훈련만, 실행마다 BLAS 스레드 "
        "하나로 이 컴퓨터에서 잰 값입니다."
    )
for _more, _more_ko in (
    ("", ""),
    (
        " and {updates} updates for the equal-updates one",
        ", 같은 갱신 횟수 비교를 위해 갱신 {updates}번까지",
    ),
):
    SENTENCES[
        "Besides the budget of {budget}, runs trained on until {seconds} s of training for the "
        "equal-time comparison" + _more + ": {trained:list}."
    ] = (
        "예산 {budget}과 별도로, 같은 시간 비교를 위해 훈련 {seconds}초까지"
        + _more_ko
        + " 더 학습한 실행: {trained:list}."
    )
for _what, _what_ko, _unit, _unit_ko in (
    ("update", "갱신 한 번", "ms", "ms"),
    ("epoch", "에폭 하나", "s", "초"),
):
    for _tail, _tail_ko in (
        (".", "."),
        (_TIED_IS, "; 가장 빠른 것과 시드에 따른 편차 범위 안: {tied:list}."),
        (_TIED_ARE, "; 가장 빠른 것과 시드에 따른 편차 범위 안: {tied:list}."),
    ):
        SENTENCES[
            f"Per {_what} (runs of {{budget}} or more), batch {{batch}} was the fastest "
            f"({{value:sig}} {_unit}) and batch {{last}} the slowest ({{last_value:sig}} {_unit}, "
            "{ratio:x}× longer)" + _tail
        ] = (
            f"{_what_ko}에 걸린 시간({{budget}} 이상 실행)이 가장 짧은 것은 배치 {{batch}} "
            f"({{value:sig}} {_unit_ko}), 가장 긴 것은 배치 {{last}} ({{last_value:sig}} {_unit_ko}, "
            "{ratio:x}×)" + _tail_ko
        )
for _title, _title_ko, _wheres in (
    (
        "Equal epochs",
        "같은 에폭",
        (
            ("{budget}, the budget", "{budget}, 예산"),
            ("{at_epochs}; budget {budget}", "{at_epochs}; 예산 {budget}"),
        ),
    ),
    (
        "Equal updates",
        "같은 갱신 횟수",
        (("{updates} updates; budget {budget}", "갱신 {updates}번; 예산 {budget}"),),
    ),
    (
        "Equal time",
        "같은 시간",
        (("{seconds} s of training; budget {budget}", "훈련 {seconds}초; 예산 {budget}"),),
    ),
):
    for _where, _where_ko in _wheres:
        SENTENCES[
            f"**{_title}** ({_where}): batch {{batch}} reached the highest mean test accuracy, "
            "{value:pm}<*>"
        ] = f"**{_title_ko}** ({_where_ko}): 평균 시험 정확도가 가장 높은 것은 배치 {{batch}}, {{value:pm}}<1>"
for _where, _where_ko in (
    ("{budget}, the budget", "{budget}, 예산"),
    ("{at_epochs}; budget {budget}", "{at_epochs}; 예산 {budget}"),
):
    SENTENCES[
        '"It depends" is really "it depends on what you hold fixed": the highest test accuracy at '
        "equal epochs (" + _where + ") went to {at_epochs_pick}, at equal updates ({updates}) to "
        "{at_updates_pick}, at equal time ({seconds} s of training) to {at_time_pick}. When "
        "compute time is what you pay for, the equal-time comparison is the one that matters: on "
        "this machine it points to {at_time_pick}."
    ] = (
        '"경우에 따라 다르다"는 사실 "무엇을 고정하느냐에 따라 다르다"입니다. 시험 정확도가 가장 '
        "높은 것은 같은 에폭(" + _where_ko + ")에서 {at_epochs_pick}, 같은 갱신 횟수(갱신 "
        "{updates}번)에서 {at_updates_pick}, 같은 시간(훈련 {seconds}초)에서 {at_time_pick}입니다. "
        "계산 시간이 곧 비용이라면 중요한 것은 같은 시간 비교이고, 이 컴퓨터에서는 "
        "{at_time_pick}입니다."
    )
SENTENCES |= {
    "Every run reached all three checkpoints below within its {budget}.": "모든 실행이 {budget} "
    "안에 아래의 세 비교 지점에 모두 도달했습니다.",
    "Batch {batch} took {ms:sig} ms per update and {s_epoch:sig} s per epoch; in {budget} it "
    "reached {epochs:pm} test accuracy. Only one batch size was run, so there is nothing to "
    "compare: give two or more --values.": "배치 {batch}: 갱신 한 번에 {ms:sig} ms, 에폭 하나에 "
    "{s_epoch:sig}초; {budget} 동안 시험 정확도 {epochs:pm}. 배치 크기를 하나만 실행해서 비교할 "
    "것이 없습니다: --values에 두 개 이상 주세요.",
    "Batch {batch} (lr {lr}) <*>; test accuracy {epochs:pm} (chance {chance:acc})<*>": "배치 "
    "{batch} (lr {lr}): <1>; 시험 정확도 {epochs:pm} (무작위 추측 {chance:acc})<2>",
    "Fewer than two batch sizes trained without diverging in {budget}: nothing to rank.": ""
    "{budget} 동안 발산하지 않고 학습된 배치 크기가 둘보다 적어 순위를 매길 것이 없습니다.",
    "Batch {batch} reached the highest test accuracy whichever way you count: at {at_epochs}, at "
    "{updates} updates and at {seconds} s of training (budget {budget}).": "어떻게 세든 시험 "
    "정확도가 가장 높은 것은 배치 {batch}입니다: {at_epochs}, 갱신 {updates}번, 훈련 {seconds}초 "
    "모두에서 (예산 {budget}).",
    "With one seed per batch size the seed noise is unknown: run two or more --seeds before "
    "trusting differences of a few thousandths (in {budget}).": "배치 크기마다 시드가 하나라 "
    f"{_NOISE}를 알 수 없습니다: 천분의 몇 정도의 차이를 믿기 전에 --seeds를 두 개 이상 주어 "
    "실행하세요 ({budget} 동안).",
}
WORDS |= {
    "Batch size: speed and accuracy": "배치 크기: 속도와 정확도",
    "How does mini-batch size affect speed and accuracy, and what size is right?": "미니배치 "
    "크기는 속도와 정확도에 어떤 영향을 주고, 어떤 크기가 알맞나?",
    "Speed": "속도",
    "Accuracy: three fair comparisons": "정확도: 공정한 비교 세 가지",
    "Accuracy: three fair comparisons (batch sizes that diverged left out)": "정확도: 공정한 "
    "비교 세 가지 (발산한 배치 크기는 제외)",
    "Answer": "답",
    "All batch sizes": "모든 배치 크기",
    "ms/update": "ms/갱신",
    "s/epoch": "초/에폭",
    "epochs trained": "학습한 에폭",
    "test acc, equal epochs": "시험 정확도, 같은 에폭",
    "test acc, equal updates": "시험 정확도, 같은 갱신 횟수",
    "test acc, equal time": "시험 정확도, 같은 시간",
    "linear": "선형",
    "sqrt": "제곱근",
    "; the next was batch {next} ({next_value:pm}), and with one seed whether they differ is "
    "unknown.": "; 다음은 배치 {next} ({next_value:pm})이고, 시드가 하나라 둘이 다른지는 알 수 "
    "없습니다.",
    "; {tied:list} is within the seed noise.": f"; {{tied:list}}: {_NOISE} 범위 안.",
    "; {tied:list} are within the seed noise.": f"; {{tied:list}}: {_NOISE} 범위 안.",
    "; the next, batch {next} ({next_value:pm}), is lower by more than the seed noise.": (
        f"; 다음은 배치 {{next}} ({{next_value:pm}})로, {_NOISE}보다 더 낮습니다."
    ),
    "; {diverged} of {seeds} seeds diverged.": "; 시드 {seeds}개 중 {diverged}개가 발산했습니다.",
    "; {diverged} of {seeds} seeds diverged after the budget, training on to a later "
    "checkpoint.": "; 시드 {seeds}개 중 {diverged}개가 예산 뒤에, 나중 비교 지점까지 더 학습하다 "
    "발산했습니다.",
}
WORD_PATTERNS += (
    (r"batch (\d+) trained (.+)", "배치 {0}: {1} 학습"),
    (
        r"batch (\d+) \(or (.+), within the seed noise\)",
        f"배치 {{0}} (또는 {{1}}, {_NOISE} 범위 안)",
    ),
    (r"((?:batch \d+, )*batch \d+) and (batch \d+)", "{0}, {1}"),
)

# -- depth-width ---------------------------------------------------------------------------------
_WHERE_LEADS = (
    (
        "**{variant}** learned in {budget} at every depth and width; its",
        "**{variant}**: {budget} 동안 모든 깊이와 너비에서 학습됨;",
    ),
    (
        "**{variant}** learned in {budget} at {where:list}; its",
        "**{variant}**: {budget} 동안 {where:list}에서 학습됨;",
    ),
    (
        "**{variant}**: no net learned in {budget}; the",
        "**{variant}**: {budget} 동안 학습된 신경망 없음;",
    ),
)
_DEEP_TAIL = (
    " At initialisation, in its depth-{deep_depth} × width-{deep_width} net, the gradient at the "
    "last weight layer was {ratio:sig}× that at the first (RMS over a fixed batch).",
    " 초기 상태의 깊이 {deep_depth} × 너비 {deep_width} 신경망에서 마지막 가중치 층의 기울기는 첫 "
    "층의 {ratio:sig}×였습니다 (고정한 배치에서 잰 RMS).",
)
for _lead, _lead_ko in _WHERE_LEADS:
    for _tail, _tail_ko in (("", ""), _DEEP_TAIL):
        SENTENCES[
            _lead + " highest test accuracy was {acc:pm}, at depth {depth} × width {width}." + _tail
        ] = (
            _lead_ko
            + " 가장 높은 시험 정확도는 깊이 {depth} × 너비 {width}에서 {acc:pm}."
            + _tail_ko
        )
_PLATEAU = (
    " A loss that stopped falling may still be a plateau that a longer run leaves: deep sigmoid "
    "nets can sit on one for epochs (ch. {chapter}).",
    " 더 줄지 않는 손실도 더 긴 실행에서는 벗어나는 정체 구간일 수 있습니다: 깊은 시그모이드 "
    "신경망은 여러 에폭 동안 정체 구간에 머물기도 합니다 (ch. {chapter}).",
)
for _end, _end_ko in (
    (".", "."),
    (
        ", mean mini-batch loss {first:.3f} -> {last:.3f}.",
        ", 평균 미니배치 손실 {first:.3f} -> {last:.3f}.",
    ),
    (
        ", mean mini-batch loss {first:.3f} -> {last:.3f}." + _PLATEAU[0],
        ", 평균 미니배치 손실 {first:.3f} -> {last:.3f}." + _PLATEAU[1],
    ),
):
    SENTENCES[
        "At {where:list}, {variant} <*>; test accuracy {acc:pm} at depth {depth} × width {width} "
        "(chance {chance:acc})" + _end
    ] = (
        "{where:list}에서 {variant}: <1>; 깊이 {depth} × 너비 {width}의 시험 정확도 {acc:pm} "
        "(무작위 추측 {chance:acc})" + _end_ko
    )
for _how, _how_ko in (
    ("Deeper, at {col}", "더 깊게, {col}에서"),
    ("Wider, at depth {d0}", "더 넓게, 깊이 {d0}에서"),
):
    SENTENCES[
        _how + ": in {budget}, depth {d0} × width {w0} -> depth {d1} × width {w1} changed test "
        "accuracy {acc0:pm} -> {acc1:pm} ({noise}), parameters {p0} -> {p1}, time per epoch {t0} "
        "s -> {t1} s."
    ] = (
        _how_ko
        + ": {budget} 동안 깊이 {d0} × 너비 {w0} -> 깊이 {d1} × 너비 {w1}(으)로 바꾸자 시험 "
        "정확도 {acc0:pm} -> {acc1:pm} ({noise}), 매개변수 {p0} -> {p1}개, 에폭당 시간 {t0}초 -> "
        "{t1}초."
    )
SENTENCES |= {
    "Setup: {variants:list} nets with {depths:list} hidden layers × {columns:list}, {optimizer} "
    "with lr {lr}, batch {batch}, {budget} per net, {seeds} per net; test accuracy on the full "
    "test set (mean ± std over seeds). A net *learned* when its test accuracy is above {bar:acc} "
    "({factor}× chance); if not, it *did not train* when its loss had stopped falling and *had "
    "not learned yet* when the loss was still falling.": "설정: {variants:list} 신경망, 은닉층 "
    "{depths:list}개 × {columns:list}, {optimizer} lr {lr}, 배치 {batch}, 신경망마다 {budget}, "
    "신경망마다 {seeds}; 시험 정확도는 시험 데이터 전체에서 잰 값(시드에 대한 평균 ± 표준편차). "
    "시험 정확도가 {bar:acc}(무작위 추측의 {factor}×)보다 높으면 *학습됨*, 아니면 손실이 더 줄지 "
    "않았을 때 *학습되지 않음*, 손실이 아직 줄어드는 중일 때 *아직 학습하지 못함*입니다.",
    "Highest mean test accuracy in {budget}: depth {depth} × width {width} ({params} parameters), "
    "{acc:pm}. Largest generalisation gap (train - test accuracy): {gap:acc} at depth "
    "{gap_depth} × width {gap_width}.": "{budget} 동안 평균 시험 정확도가 가장 높은 것: 깊이 "
    "{depth} × 너비 {width} (매개변수 {params}개), {acc:pm}. 훈련과 시험의 정확도 차이(훈련 - "
    "시험)가 가장 큰 것: 깊이 {gap_depth} × 너비 {gap_width}에서 {gap:acc}.",
    "For {variant}: <*>": "{variant}: <1>",
    "Depth also has a cost width does not: in {budget}, no depth-{deepest} {late:list} net "
    "learned, while shallower ones did (see above whether their loss had stopped or was still "
    "falling).": "깊이에는 너비에 없는 비용도 있습니다: {budget} 동안 깊이 {deepest}의 "
    "{late:list} 신경망은 하나도 학습되지 않았지만 더 얕은 신경망은 학습됐습니다(손실이 더 줄지 "
    "않았는지 아직 줄어드는 중이었는지는 위를 보세요).",
}
WORDS |= {
    "Depth against width": "깊이 대 너비",
    "What does depth do, compared with width?": "깊이는 너비와 비교해 무엇을 하나?",
    "deepening": "깊게 하기",
    "widening": "넓게 하기",
    "One depth and one width: nothing to compare; give two or more --depths or --widths.": "깊이 "
    "하나, 너비 하나: 비교할 것이 없습니다. --depths나 --widths에 두 개 이상 주세요.",
    "one seed only: noise unknown": f"시드가 하나뿐: {_NOISE}를 알 수 없음",
    "Both helped in {budget}": "{budget} 동안 둘 다 도움이 됨",
    "Neither helped in {budget}": "{budget} 동안 어느 쪽도 도움이 되지 않음",
    "In {budget}, with one seed per net neither change can be told from noise": "{budget} 동안, "
    f"신경망마다 시드가 하나라 어느 변화도 {_NOISE}와 구별할 수 없음",
    "In {budget}, neither changed test accuracy by more than the seed noise": "{budget} 동안 어느 "
    f"쪽도 시험 정확도를 {_NOISE}보다 크게 바꾸지 못함",
    "At about the same number of parameters, in {budget} the deep-narrow net beat the "
    "shallow-wide one": "매개변수 수가 거의 같을 때, {budget} 동안 깊고 좁은 신경망이 얕고 넓은 "
    "신경망을 앞섬",
    "At about the same number of parameters, in {budget} the deep-narrow net fell behind the "
    "shallow-wide one": "매개변수 수가 거의 같을 때, {budget} 동안 깊고 좁은 신경망이 얕고 넓은 "
    "신경망에 뒤짐",
    "At about the same number of parameters, in {budget} the deep-narrow net and the "
    "shallow-wide one could not be told apart": "매개변수 수가 거의 같을 때, {budget} 동안 깊고 "
    "좁은 신경망과 얕고 넓은 신경망을 구별할 수 없음",
}
WORD_PATTERNS += (
    (r"Does a deep net learn in (.+)\?", "깊은 신경망이 {0} 동안 학습되나?"),
    (r"Depth against width \((.+)\)", "깊이 대 너비 ({0})"),
    (r"Only (deepening|widening) was tried, in \{budget\}", "{{budget}} 동안 {0}만 시도함"),
    (r"In \{budget\}, only (deepening|widening) helped", "{{budget}} 동안 {0}만 도움이 됨"),
    (
        r"(deepening|widening) changed test accuracy by (\{\w+:\+\.3f\}) \((.+?)\) and "
        r"(deepening|widening) changed test accuracy by (\{\w+:\+\.3f\}) \((.+?)\)",
        "{0}: 시험 정확도가 {1}만큼 바뀜 ({2}), {3}: 시험 정확도가 {4}만큼 바뀜 ({5})",
    ),
    (
        r"(deepening|widening) changed test accuracy by (\{\w+:\+\.3f\}) \((.+?)\)",
        "{0}: 시험 정확도가 {1}만큼 바뀜 ({2})",
    ),
    (r"(.+?): ((?:deepening|widening) changed .+)\.", "{0}: {1}."),
)

_COMPILED_WORDS = compile_patterns(WORD_PATTERNS)
_COMPILED_SENTENCES = tuple(
    (re.compile(re.escape(en).replace(re.escape("<*>"), "(.+?)"), re.DOTALL), ko)
    for en, ko in SENTENCES.items()
    if "<*>" in en
)


def sentence(template: str) -> str:
    """The Korean of a sentence template, or the template itself when it has none."""
    if template in SENTENCES:
        return SENTENCES[template]
    for pattern, ko in _COMPILED_SENTENCES:
        m = pattern.fullmatch(template)
        if m:
            for i, part in enumerate(m.groups(), start=1):
                ko = ko.replace(f"<{i}>", word(part))
            return ko
    return template


def word(text: str) -> str:
    """The Korean of a title, heading, header or value; code names and numbers stay."""
    found = lookup(text, WORDS, _COMPILED_WORDS, word)
    return translate(text) if found is None else found
