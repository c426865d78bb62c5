"""Korean for the texts of scratchdl's figures, in the terms of :mod:`scratchdl.plots.glossary`.

:data:`EXACT` maps a whole English text to its Korean; :data:`PATTERNS` map texts with numbers
or names in them (a regular expression over the whole text, and a Korean template whose ``{0}``,
``{1}`` ... are the groups, each translated in turn). :func:`translate` tries the whole text,
then each line. Numbers and code names (SGD, ReLU, W1, lr) stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from scratchdl.plots.glossary import TERMS

__all__ = ["EXACT", "PATTERNS", "compile_patterns", "lookup", "translate"]

EXACT: dict[str, str] = {
    # single terms, as the glossary has them
    **{
        term: TERMS[term]
        for term in ("train", "test", "epoch", "accuracy", "loss", "iteration", "chance")
        + ("learning rate", "hidden layer", "feature map")
    },
    # ch. 2
    "output 0": "출력 0",
    "output 1": "출력 1",
    "OR's line": "OR의 직선",
    "NAND's line": "NAND의 직선",
    "misclassified": "잘못 분류됨",
    "One line (here OR's) always gets a point wrong": "직선 하나로는(여기서는 OR의 직선) 늘 한 점이 틀린다",
    "Two layers: XOR = AND(NAND, OR)": "2층: XOR = AND(NAND, OR)",
    "XOR is not linearly separable (blue: output 1)": "XOR은 직선으로 나눌 수 없다 (파랑: 출력 1)",
    "Single perceptrons: shaded blue where the gate outputs 1": "퍼셉트론 하나: 게이트의 출력이 1인 곳이 파랑",
    # ch. 3
    "Step function": "계단 함수",
    "Sigmoid": "시그모이드 함수",
    "ReLU": "ReLU 함수",
    "y = 1 if x > 0 else 0": "x > 0이면 y = 1, 아니면 0",
    "Activation functions": "활성화 함수",
    "Softmax": "소프트맥스 함수",
    "probability y": "확률 y",
    "Raising score a0 moves probability to class 0": "점수 a0을 올리면 확률이 클래스 0으로 옮겨 간다",
    "score a0": "점수 a0",
    # ch. 4
    "Numerical differentiation: tangent slope by central difference": "수치 미분: 중심 차분으로 구한 접선의 기울기",
    "minimum (0, 0)": "최솟값 (0, 0)",
    "Negative gradient of f(x0, x1) = x0² + x1²": "f(x0, x1) = x0² + x1²의 기울기에 마이너스를 붙인 벡터",
    "(arrows point downhill)": "(화살표는 내리막을 가리킨다)",
    "path": "경로",
    "step": "단계",
    "distance from the minimum ||x|| (log scale)": "최솟값까지의 거리 ||x|| (로그 눈금)",
    "the numerical gradient is lost to": "이 크기에서는 수치 기울기가",
    "rounding at this size, so x freezes": "반올림 오차에 묻혀 x가 멈춘다",
    # ch. 6
    "start": "시작점",
    "minimum": "최솟값",
    "activation": "활성화 값",
    "sigmoid, std = 1": "시그모이드, std = 1",
    "sigmoid, std = 0.01": "시그모이드, std = 0.01",
    "sigmoid, Xavier (std = 1/√n)": "시그모이드, Xavier (std = 1/√n)",
    "ReLU, He (std = √(2/n))": "ReLU, He (std = √(2/n))",
    "(not drawn)": "(그리지 않음)",
    "Hidden-layer activations by weight initialisation: 5 layers of 100 units, "
    "1000 inputs from N(0, 1) (counts per bin)": "가중치 초깃값에 따른 은닉층 활성화 값 분포: "
    "뉴런 100개짜리 층 5개, N(0, 1) 입력 1000개 (구간별 개수)",
    # ch. 7
    "vertical edge": "세로 경계",
    "horizontal edge": "가로 경계",
    "diagonal stroke": "대각선 획",
    "blur (average)": "흐리기 (평균)",
    "input": "입력",
    "(stride 1, no padding)": "(스트라이드 1, 패딩 없음)",
    "What a convolution does to a digit": "합성곱이 숫자 이미지에 하는 일",
    "top: the filters (red +, blue -); bottom: their feature maps (white = strong match, "
    "gray = 0)": "위: 필터 (빨강 +, 파랑 -), 아래: 특징 맵 (흰색 = 강하게 일치, 회색 = 0)",
    " (the book's params.pkl)": " (책의 params.pkl)",
    "no test digit is misclassified": "잘못 분류한 시험 숫자가 없다",
    # ch. 8
    "original": "원본",
    "shift ±2 px": "이동 ±2 px",
    "rotate ±10°": "회전 ±10°",
    "scale ±10%": "크기 변경 ±10%",
    "elastic": "탄성 변형",
    "all at once": "모두 한꺼번에",
    "Data augmentation: each row a new random draw of one transform": "데이터 확장: 행마다 "
    "변환 하나를 새로 무작위로 적용",
    "year": "연도",
    "top-5 error (%)": "상위 5개 오류율 (%)",
    "ILSVRC winners (blue: deep convolutional networks)": "ILSVRC 우승 팀 (파랑: 깊은 합성곱 "
    "신경망)",
    # training curves (ch. 4.5.3) and sweeps
    "epochs": "에폭",
    # the second book, ch. 8 (scratchdl.plots.attention)
    "input (encoder)": "입력(인코더)",
    "output (decoder)": "출력(디코더)",
    "Accuracy per epoch": "에폭별 정확도",
    "Loss per iteration": "반복별 손실",
    "mini-batch loss": "미니배치 손실",
    "no result": "결과 없음",
    "Accuracy after training": "훈련 후 정확도",
    "Loss after training": "훈련 후 손실",
    "training loss (diverged runs left out)": "훈련 손실 (발산한 실행은 제외)",
    "train loss": "훈련 손실",
    "test (full set)": "시험 (전체)",
    "Training loss": "훈련 손실",
    "Test accuracy": "시험 정확도",
    "training loss": "훈련 손실",
    "test accuracy": "시험 정확도",
    "train accuracy": "훈련 정확도",
    "training loss (eval subsample, log scale)": "훈련 손실 (평가용 표본, 로그 눈금)",
    "test accuracy (eval subsample)": "시험 정확도 (평가용 표본)",
    "train accuracy (eval subsample)": "훈련 정확도 (평가용 표본)",
    "updates": "갱신 횟수",
    "mini-batch loss, mean since the last point (log scale)": "미니배치 손실, 직전 점 이후의 평균 "
    "(로그 눈금)",
    "mini-batch loss, mean since the last point": "미니배치 손실, 직전 점 이후의 평균",
    "share per bin": "구간별 비율",
    "output": "출력",
    "train acc": "훈련 정확도",
    "with BN": "BN 있음",
    "without BN": "BN 없음",
    "initial weight scale W": "가중치 초깃값의 크기 W",
    "training accuracy": "훈련 정확도",
    "no regularisation": "규제 없음",
    "accuracy gap": "정확도 차이",
    "Gap (train - test)": "차이 (훈련 - 시험)",
    "weight decay λ": "가중치 감소 λ",
    "validation": "검증",
    "The best draws' learning curves (as the book's figure)": "가장 좋은 추출들의 학습 곡선 "
    "(책의 그림처럼)",
    "one seed": "시드 1개",
    # batch-size and depth-width sweeps
    "batch size": "배치 크기",
    "test accuracy (full test set)": "시험 정확도 (시험 데이터 전체)",
    "train accuracy (full train set)": "훈련 정확도 (훈련 데이터 전체)",
    "Train accuracy": "훈련 정확도",
    "milliseconds per update": "갱신당 밀리초",
    "Time per update": "갱신당 시간",
    "seconds per epoch": "에폭당 초",
    "Time per epoch": "에폭당 시간",
    "training samples per second": "초당 훈련 표본 수",
    "Throughput": "처리량",
    "Training speed against batch size (one BLAS thread, evaluation excluded)": "배치 크기에 "
    "따른 훈련 속도 (BLAS 스레드 하나, 평가 제외)",
    "epochs (as the Trainer counts them)": "에폭 (Trainer가 세는 대로)",
    "Test accuracy against epochs": "에폭에 따른 시험 정확도",
    "Test accuracy against updates": "갱신 횟수에 따른 시험 정확도",
    "Test accuracy against seconds": "훈련 시간에 따른 시험 정확도",
    "training seconds": "훈련 시간 (초)",
    "Learning curves by batch size (mean over seeds)": "배치 크기별 학습 곡선 (시드 평균)",
    "depth (hidden layers)": "깊이 (은닉층 수)",
    "width (units per hidden layer)": "너비 (은닉층의 뉴런 수)",
    "parameter budget": "매개변수 예산",
    "train - test accuracy": "훈련 - 시험 정확도",
    "Generalisation gap": "훈련과 시험의 정확도 차이",
    "Training time": "훈련 시간",
    "Learning curves by depth (mean over seeds)": "깊이별 학습 곡선 (시드 평균)",
    "weight layer (1 = next to the input)": "가중치 층 (1 = 입력 바로 다음)",
    "RMS of dLoss/dW (log scale)": "dLoss/dW의 RMS (로그 눈금)",
    "Gradient size per layer": "층별 기울기 크기",
    "std of activations": "활성화 값의 표준편차",
    "Activation spread per layer": "층별 활성화 값의 퍼짐",
    "at init": "초기 상태",
    "trained": "학습 후",
    "Accuracy against batch size": "배치 크기에 따른 정확도",
    "Training speed against batch size": "배치 크기에 따른 훈련 속도",
    "Learning curves by batch size": "배치 크기별 학습 곡선",
    "Test accuracy by depth and width": "깊이와 너비에 따른 시험 정확도",
    "Accuracy, gap and time against depth": "깊이에 따른 정확도, 차이, 시간",
    "Learning curves by depth": "깊이별 학습 곡선",
    "Vanishing gradients: gradient size and activation spread per layer": "기울기 소실: 층별 "
    "기울기 크기와 활성화 값의 퍼짐",
    # scratchdl report: the page's own headings and captions
    "Model": "모델",
    "Training history": "훈련 기록",
    "Results": "결과",
    "Training run": "훈련 실행",
    "Sweep": "스윕",
    "Figures": "그림",
    "no evaluation recorded": "기록된 평가 없음",
    "Step, sigmoid and ReLU activation functions": "계단 함수, 시그모이드 함수, ReLU 함수",
    "Softmax of a score vector, and the probabilities as one score varies": "점수 벡터의 "
    "소프트맥스와, 점수 하나를 바꿀 때의 확률",
    "AND, NAND and OR perceptrons: decision lines and half-planes": "AND, NAND, OR 퍼셉트론: "
    "결정 직선과 반평면",
    "XOR is not linearly separable; two layers solve it": "XOR은 직선으로 나눌 수 없고, 2층이면 "
    "된다",
    "f(x) = 0.01x² + 0.1x with tangents from numerical differentiation": "f(x) = 0.01x² + 0.1x와 "
    "수치 미분으로 구한 접선",
    "The surface of f(x0, x1) = x0² + x1²": "f(x0, x1) = x0² + x1²의 곡면",
    "Negative gradient field of x0² + x1²": "x0² + x1²의 기울기에 마이너스를 붙인 벡터장",
    "Gradient descent with learning rates 0.1, 10 and 1e-10": "학습률 0.1, 10, 1e-10의 경사 하강법",
    "A sample of MNIST digits with their labels": "MNIST 숫자 표본과 레이블",
    "First-layer weights of a trained network as 28 × 28 images": "학습한 신경망의 첫 번째 층 "
    "가중치를 28 × 28 이미지로",
    "Misclassified test digits: true and predicted labels": "잘못 분류한 시험 숫자: 정답과 예측",
    "Learning curves: loss per iteration, accuracy per epoch": "학습 곡선: 반복별 손실, 에폭별 정확도",
    "Learning curves of this run": "이 실행의 학습 곡선",
    "SGD, Momentum, AdaGrad and Adam on the book's f(x, y)": "책의 f(x, y)에서 SGD, Momentum, "
    "AdaGrad, Adam",
    "Hidden-layer activations by initial weights": "가중치 초깃값에 따른 은닉층 활성화 값",
    "First-layer convolution filters before and after training": "훈련 전과 후의 첫 번째 층 "
    "합성곱 필터",
    "Accuracy and loss against learning rate": "학습률에 따른 정확도와 손실",
    "Learning curves by learning rate": "학습률별 학습 곡선",
    "Learning curves by optimizer": "옵티마이저별 학습 곡선",
    "Learning curves by initial weights": "가중치 초깃값별 학습 곡선",
    "Hidden-layer activations at initialisation": "초기 상태의 은닉층 활성화 값",
    "Hidden-layer activations after training": "훈련 후의 은닉층 활성화 값",
    "Learning curves with and without batch normalization": "배치 정규화 유무에 따른 학습 곡선",
    "Training accuracy against the initial weight scale": "가중치 초깃값의 크기에 따른 훈련 정확도",
    "Overfitting: train and test accuracy with and without regularization": "오버피팅: 규제 "
    "유무에 따른 훈련 정확도와 시험 정확도",
    "Hyperparameter search: validation accuracy of each trial": "하이퍼파라미터 탐색: 시행마다의 "
    "검증 정확도",
    "Learning curves of the best hyperparameters": "가장 좋은 하이퍼파라미터의 학습 곡선",
}

#: (regular expression over the whole text, Korean template of its groups).
PATTERNS: tuple[tuple[str, str], ...] = (
    # ch. 2
    (r"class (\d+)\nscore a = (.+)", "클래스 {0}\n점수 a = {1}"),
    (r"softmax\((.*)\): probabilities sum to 1", "softmax({0}): 확률의 합은 1"),
    (r"y(\d+) \(score a(\d+) = varied\)", "y{0} (점수 a{1} = 바꿈)"),
    (r"y(\d+) \(score a(\d+) = (.+)\)", "y{0} (점수 a{1} = {2})"),
    # ch. 4
    (r"tangent at x = (.+): slope (.+)", "x = {0}에서의 접선: 기울기 {1}"),
    (r"start (\(.*\))", "시작점 {0}"),
    (r"lr = 0\.1: converges to (.*)", "lr = 0.1: {0}(으)로 수렴"),
    (r"lr = 10: diverges, x ← -19·x each step", "lr = 10: 발산, 단계마다 x ← -19·x"),
    (r"ends at (\(.*\)):", "끝점 {0}:"),
    (r"ends at (\(.*\))", "끝점 {0}"),
    (
        r"lr = 1e-10: barely moves \((.+) in (\d+) steps\)",
        "lr = 1e-10: 거의 움직이지 않음 ({1}단계에 {0})",
    ),
    (
        r"Gradient descent on x0² \+ x1² from (\(.*\)), (\d+) steps",
        "x0² + x1²에서의 경사 하강법: {0}에서 {1}단계",
    ),
    # ch. 6
    (
        r"(\w+) \(lr=(.+)\): after (\d+) steps at (\(.*\)), f = (.+)",
        "{0} (lr={1}): {2}단계 뒤 {3}, f = {4}",
    ),
    (
        r"Optimizers on f\(x, y\) = x²/20 \+ y² from (\(.*\)), (\d+) steps each "
        r"\(contours at f = (.*)\)",
        "f(x, y) = x²/20 + y²에서의 옵티마이저: {0}에서 각각 {1}단계 (등고선 f = {2})",
    ),
    (r"layer (\d+)", "{0}번째 층"),
    (r"(\d+%) exactly 0", "{0}가 정확히 0"),
    (r"mean of (\d+)", "{0}개 평균"),
    # ch. 3, 5 and 7 (MNIST)
    (r"label (\d+)", "레이블 {0}"),
    (r"MNIST: (\d+) random digits with their labels", "MNIST: 무작위 숫자 {0}개와 레이블"),
    (r"unit (\d+)", "뉴런 {0}"),
    (
        r"First-layer weights W1: (\d+) of (\d+) hidden units \(red positive, blue negative\)",
        "첫 번째 층의 가중치 W1: 은닉 뉴런 {1}개 중 {0}개 (빨강 양수, 파랑 음수)",
    ),
    (
        r"Misclassified test digits: (\d+) of (\d+) wrong \((.+)\), first (\d+) shown",
        "잘못 분류한 시험 숫자: {1}개 중 {0}개 ({2}), 처음 {3}개",
    ),
    (r"true (\d+), pred (\d+)", "정답 {0}, 예측 {1}"),
    (r"input \(label (\d+)\)", "입력 (레이블 {0})"),
    (r"filter (\d+)", "필터 {0}"),
    (r"before training: random (.+) filters", "훈련 전: 무작위 {0} 필터"),
    (r"after training(.*)", "훈련 후{0}"),
    (
        r" \((\d+) steps of (\d+), train accuracy (.+) on (\d+) samples\)",
        " (미니배치 {1}개로 {0}단계, 표본 {3}개의 훈련 정확도 {2})",
    ),
    (
        r"SimpleConvNet's first layer: (\d+) filters \(dark = large weight\)",
        "SimpleConvNet의 첫 번째 층: 필터 {0}개 (어두울수록 큰 가중치)",
    ),
    # sweeps
    (r"Against learning rate \((.+)\)", "학습률에 따른 결과 ({0})"),
    (r"Learning curves by learning rate \((.+)\)", "학습률별 학습 곡선 ({0})"),
    (r"mean ± std over (\d+) seeds", "시드 {0}개의 평균 ± 표준편차"),
    (r"mean over (\d+) seeds", "시드 {0}개의 평균"),
    (r"Training loss \(the book's figure (.+)\)", "훈련 손실 (책의 그림 {0})"),
    (r"test accuracy \((\d+) test images\)", "시험 정확도 (시험 이미지 {0}장)"),
    (r"Optimizers, (.+) \((.+)\)", "옵티마이저, {0} ({1})"),
    (r"(\d+) updates", "갱신 {0}번"),
    (r"(\S+) epochs?", "{0}에폭"),
    (r"Initial weights, (.+) \((.+)\)", "가중치 초깃값, {0} ({1})"),
    (r"layer (\d+) \((\d+) units\)", "{0}번째 층 (뉴런 {1}개)"),
    (r"(\d+%) exactly 0 \(not drawn\)", "{0}가 정확히 0 (그리지 않음)"),
    (r"(\d+%) above 1", "{0}가 1보다 큼"),
    (
        r"Hidden-layer outputs at initialisation \(the book's figures (.+) to (.+); (\d+) bins "
        r"over \[0, 1\], (.+)\)",
        "초기 상태의 은닉층 출력 (책의 그림 {0}~{1}; [0, 1]을 {2}구간으로, {3})",
    ),
    (
        r"Hidden-layer outputs after (.+) \(the book's figures (.+) to (.+); (\d+) bins "
        r"over \[0, 1\], (.+)\)",
        "{0} 뒤의 은닉층 출력 (책의 그림 {1}~{2}; [0, 1]을 {3}구간으로, {4})",
    ),
    (
        r"Training accuracy with and without BatchNorm \((.+)\)",
        "배치 정규화를 쓸 때와 안 쓸 때의 훈련 정확도 ({0})",
    ),
    (r"After (.+)", "{0} 뒤"),
    (
        r"Training accuracy against the initial scale \((.+)\)",
        "가중치 초깃값의 크기에 따른 훈련 정확도 ({0})",
    ),
    (r"weight decay (\S+)", "가중치 감소 {0}"),
    (r"dropout (\S+)", "드롭아웃 {0}"),
    (
        r"Accuracy on (\d+) training images and the test set \((.+)\)",
        "훈련 이미지 {0}장과 시험 데이터의 정확도 ({1})",
    ),
    (r"Validation accuracy after (.+) \((\d+) draws\)", "{0} 뒤의 검증 정확도 (추출 {1}번)"),
    (r"the best (\d+)", "가장 좋은 {0}개"),
    (r"best: draw (\d+)", "가장 좋음: {0}번 추출"),
    (r"validation accuracy \((\d+) images\)", "검증 정확도 (이미지 {0}장)"),
    (r"Best-(\d+): lr (.+), λ (.+)", "{0}위: lr {1}, λ {2}"),
    # batch-size and depth-width sweeps
    (r"Accuracy against batch size \((.+)\)", "배치 크기에 따른 정확도 ({0})"),
    (r"equal epochs \((.+)\)", "같은 에폭 ({0})"),
    (r"equal updates \((.+)\)", "같은 갱신 횟수 ({0})"),
    (r"equal time \((.+)\)", "같은 시간 ({0})"),
    (
        r"Test accuracy by depth and width after (.+) \((.+)\)",
        "{0} 뒤 깊이와 너비에 따른 시험 정확도 ({1})",
    ),
    (r"Accuracy, gap and time against depth \((.+)\)", "깊이에 따른 정확도, 차이, 시간 ({0})"),
    (
        r"Vanishing gradients: depth (\d+), (.+) \(fixed batch of (\d+) training images, mean "
        r"over seeds\)",
        "기울기 소실: 깊이 {0}, {1} (고정한 훈련 이미지 {2}장의 배치, 시드 평균)",
    ),
    (r"depth (\d+) × width (.+)", "깊이 {0} × 너비 {1}"),
    (r"depth (\d+)", "깊이 {0}"),
    (r"width (\d+)", "너비 {0}"),
    (r"~(\d+) params", "매개변수 ~{0}개"),
    # scratchdl report
    (r"(\d+) iterations?", "반복 {0}회"),
    (r"stopped: (.+)", "멈춘 이유: {0}"),
    (r"(\d+) images?", "그림 {0}개"),
    (r"Generated by scratchdl (.+)\.", "scratchdl {0}로 만듦."),
    # training curves
    (r"(train|test) ([\d.]+)", "{0} {1}"),
    (r" \((.+) on ([\d,]+) images\)", " (이미지 {1}장으로 {0})"),
    # a training run's title (TrainConfig.describe), one comma-separated part at a time
    (r"hidden (.+)", "은닉층 {0}"),
    (r"init (.+)", "초깃값 {0}"),
    (r"batch (\d+)", "배치 {0}"),
    (r"seed (\d+)", "시드 {0}"),
    (r"weight decay (.+)", "가중치 감소 {0}"),
    # last: the general ones
    (r"mean (.+)", "평균 {0}"),
    (r"std (.+)", "표준편차 {0}"),
)


def compile_patterns(patterns: Iterable[tuple[str, str]]) -> tuple:
    """``(regular expression, Korean template)`` pairs, compiled for :func:`lookup`."""
    return tuple((re.compile(p, re.DOTALL), ko) for p, ko in patterns)


def lookup(text: str, exact: Mapping, patterns: Iterable, again: Callable) -> str | None:
    """``exact[text]``, else the template of the first pattern matching all of ``text`` with
    its groups put in Korean by ``again``; None when neither knows the text."""
    if text in exact:
        return exact[text]
    for pattern, ko in patterns:
        m = pattern.fullmatch(text)
        if m:
            return ko.format(*(again(g) if g else "" for g in m.groups()))
    return None


_COMPILED = compile_patterns(PATTERNS)


def translate(text: str) -> str:
    """The Korean of ``text``; text it does not know (numbers, code names) stays as it is."""
    found = lookup(text, EXACT, _COMPILED, translate)
    if found is not None:
        return found
    if "\n" in text:
        return "\n".join(translate(line) for line in text.split("\n"))
    if ", " in text:  # a list such as a run's settings: each part on its own
        return ", ".join(translate(part) for part in text.split(", "))
    return text
